"""`loyalty serve` and `loyalty demo`: the Streamlit dashboards on localhost, reading the published warehouse."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from loyalty.errors import LoyaltyError

APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"
HOST = "127.0.0.1"

# The demo's sample world: big enough to look real, small enough to build in well under a minute.
DEMO_CUSTOMERS = 300
DEMO_DAYS = 60
DEMO_SEED = 42

_console = Console(stderr=True, log_path=False)


def serve(warehouse: Path, port: int) -> None:
    """Run the dashboards on http://127.0.0.1:<port> until interrupted (blocking)."""
    warehouse = Path(warehouse).expanduser().resolve()
    if not warehouse.is_file():
        raise LoyaltyError(f"no warehouse at {warehouse}: run `loyalty run --warehouse {warehouse}` first")
    if not 0 < port < 65536:
        raise LoyaltyError(f"port must be between 1 and 65535, got {port}")
    _refuse_busy_port(port)
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        HOST,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
    ]
    env = {**os.environ, "LOYALTY_WAREHOUSE": str(warehouse)}
    _console.print(f"Serving the dashboards on [bold]http://{HOST}:{port}[/] from {warehouse} (Ctrl+C stops)")
    try:
        completed = subprocess.run(command, env=env, check=False)
    except KeyboardInterrupt:
        return
    if completed.returncode not in (0, -2, 130):  # 130/-2: stopped with Ctrl+C
        raise LoyaltyError(f"the dashboard server stopped with exit code {completed.returncode}")


def _refuse_busy_port(port: int) -> None:
    """Streamlit would only log the clash and exit; say it in one line instead."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # like the server: ignore TIME_WAIT leftovers
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            raise LoyaltyError(f"port {port} on {HOST} is already in use: choose another with --port") from exc


def demo(landing: Path, warehouse: Path, port: int, *, dbt_project: Path | None = None) -> None:
    """Generate a sample world when the landing folder has no data, run the pipeline, then serve."""
    from loyalty.run import run

    _refuse_busy_port(port)  # before the minute of building, not after
    landing = Path(landing).expanduser()
    if not _has_data(landing):
        from loyalty.generate import generate_world

        _console.print(f"Generating a sample loyalty world into {landing}")
        generate_world(out=landing, customers=DEMO_CUSTOMERS, days=DEMO_DAYS, seed=DEMO_SEED)
    run(landing, warehouse, dbt_project=dbt_project, full_refresh=False, as_json=False)
    print(f"Dashboards: http://{HOST}:{port}", flush=True)
    serve(warehouse, port)


def _has_data(landing: Path) -> bool:
    """Any source file under the landing folder (ground truth does not count: it is never ingested)."""
    if not landing.is_dir():
        return False
    return any(path.is_file() for source in ("voucherify", "segment") for path in (landing / source).rglob("*"))
