"""`loyalty serve` and `loyalty demo`: the Streamlit dashboards on localhost, reading the published warehouse."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from loyalty.errors import LoyaltyError
from loyalty.signals import Stopped

APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"
HOST = "127.0.0.1"
STOP_GRACE_SECONDS = 10

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
    dashboards = subprocess.Popen(command, env=env)
    try:
        returncode = dashboards.wait()
    except (Stopped, KeyboardInterrupt):  # SIGTERM or Ctrl+C: a requested stop, not a failure
        return
    finally:
        _stop(dashboards)
    if returncode not in (0, -2, 130):  # 130/-2: stopped with Ctrl+C
        raise LoyaltyError(f"the dashboard server stopped with exit code {returncode}")


def _stop(child: subprocess.Popen) -> None:
    """Stop the Streamlit child (SIGTERM, then SIGKILL after a grace period): never leave it orphaned, holding
    the port and the warehouse."""
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


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
        _console.print(f"Generating a sample loyalty world into {landing}")
        _generate_sample(landing)
    run(landing, warehouse, dbt_project=dbt_project, full_refresh=False, as_json=False)
    print(f"Dashboards: http://{HOST}:{port}", flush=True)
    serve(warehouse, port)


def _generate_sample(landing: Path) -> None:
    """Generate into a hidden sibling folder, then move it into place: a demo stopped while generating leaves no
    half world in the landing folder that the next demo would take for data."""
    from loyalty.generate import generate_world

    staging = landing.with_name(f".{landing.name}.generating")
    shutil.rmtree(staging, ignore_errors=True)
    generate_world(out=staging, customers=DEMO_CUSTOMERS, days=DEMO_DAYS, seed=DEMO_SEED)
    landing.mkdir(parents=True, exist_ok=True)
    for entry in sorted(staging.iterdir()):
        target = landing / entry.name
        if target.is_dir() and not any(path.is_file() for path in target.rglob("*")):
            shutil.rmtree(target)  # only empty folders: the landing had no data
        os.replace(entry, target)
    staging.rmdir()


def _has_data(landing: Path) -> bool:
    """Any source file under the landing folder (ground truth does not count: it is never ingested)."""
    if not landing.is_dir():
        return False
    return any(path.is_file() for source in ("voucherify", "segment") for path in (landing / source).rglob("*"))
