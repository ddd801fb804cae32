"""Every long-running command stops cleanly when asked to: SIGTERM (systemd, Docker, CI) and SIGINT (Ctrl+C).

Real `loyalty` processes, signalled mid-work. A clean stop means: the process exits promptly with the
documented code, leaves no child behind (the dashboards' Streamlit server above all), releases its locks and
ports, and leaves its data as a crash-safe stop would (the run recorded as failed, the published warehouse
untouched, pulled pages and received deliveries kept). docs/operations.md lists this suite with the other
fault tests.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import httpx
import pytest
from fake_voucherify_api import FakeVoucherify
from test_pull import landed, make_redemptions
from test_receiver import SECRET, compact, vendor_signature

from ingest.voucherify.pull_state import STATE_FILE
from loyalty.lock import run_lock
from loyalty.run import run_log_path_for

pytestmark = pytest.mark.fault

STOP_WITHIN = 20  # seconds from the signal to the exit, children included
EXIT_ON = {signal.SIGTERM: 143, signal.SIGINT: 130}  # 128 + the signal number


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def loyalty(args: list[str], tmp_path: Path, **env: str) -> subprocess.Popen:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")} | env
    return subprocess.Popen(
        [sys.executable, "-m", "loyalty.cli", *args],
        env=environment,
        stdout=open(tmp_path / "stdout.log", "wb"),
        stderr=open(tmp_path / "stderr.log", "wb"),
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, f"exited with {process.returncode} before {what}"
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        time.sleep(0.05)


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (children of all its threads, recursively)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        parent = pending.pop()
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            try:
                kids = {int(k) for k in children.read_text().split()}
            except OSError:
                continue
            pending += list(kids - found)
            found |= kids
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its parent's wait is missing


def stop(process: subprocess.Popen, sig: signal.Signals) -> tuple[int, float, set[int]]:
    """Send `sig` to the process alone (not its group, as systemd's main-process kill or `docker stop` does);
    return its exit code, the seconds it took, and its descendants still alive afterwards."""
    children = descendants(process.pid)
    started = time.monotonic()
    process.send_signal(sig)
    try:
        code = process.wait(STOP_WITHIN)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail(f"still running {STOP_WITHIN} s after {sig.name}")
    seconds = time.monotonic() - started
    deadline = time.monotonic() + 5  # a child's own exit may lag its parent's by a moment
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = {pid for pid in children if alive(pid)}
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    return code, seconds, orphans


def stderr_of(tmp_path: Path) -> str:
    return (tmp_path / "stderr.log").read_text(errors="replace")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_stops_with_its_dashboards(tmp_path, sig):
    """The Streamlit child used to survive a SIGTERM to `loyalty serve`, orphaned, holding the port."""
    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    port = free_port()
    process = loyalty(["serve", "--warehouse", str(warehouse), "--port", str(port)], tmp_path)

    def answering() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(answering, process, "dashboards answering")
    assert descendants(process.pid), "serve runs Streamlit as a child process"
    code, seconds, orphans = stop(process, sig)
    assert orphans == set(), "the dashboards outlived `loyalty serve`"
    assert code == 0, stderr_of(tmp_path)
    assert port_is_free(port)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_receive_stops_after_answering_and_keeps_what_it_acknowledged(tmp_path, sig):
    landing = tmp_path / "landing"
    port = free_port()
    process = loyalty(
        ["receive", "--port", str(port)], tmp_path, LOYALTY_WEBHOOK_SECRET=SECRET, LOYALTY_LANDING=str(landing)
    )
    url = f"http://127.0.0.1:{port}"

    def answering() -> bool:
        try:
            return httpx.get(url + "/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(answering, process, "the receiver answering")
    payload = {"id": "whs_stop", "event": {"id": "evt_stop", "type": "customer.created"}, "data": {}}
    answer = httpx.post(
        url + "/webhooks/voucherify",
        content=compact(payload),
        headers={"x-voucherify-signature": vendor_signature(payload)},
    )
    assert answer.status_code == 200
    code, seconds, orphans = stop(process, sig)
    assert (code, orphans) == (0, set()), stderr_of(tmp_path)
    assert port_is_free(port)
    stored = [json.loads(line) for path in landing.rglob("*.ndjson") for line in path.read_text().splitlines()]
    assert stored == [payload]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_pull_stops_between_requests_and_the_next_pull_resumes(tmp_path, sig):
    landing = tmp_path / "landing"
    config = tmp_path / "loyalty.toml"
    config.write_text('voucherify_exports = ""\n')
    with FakeVoucherify(redemptions=make_redemptions(2000), page_delay=0.05) as fake:
        env = {"LOYALTY_VOUCHERIFY_APP_ID": fake.app_id, "LOYALTY_VOUCHERIFY_APP_TOKEN": fake.app_token}
        args = ["pull", "voucherify", "--landing", str(landing), "--base-url", fake.url, "--config", str(config)]
        process = loyalty(args, tmp_path, **env)

        def paging() -> bool:
            state = landing / STATE_FILE
            return state.exists() and json.loads(state.read_text())["lists"].get("redemptions", {}).get("seq", 0) >= 3

        wait_for(paging, process, "three landed pages")
        code, seconds, orphans = stop(process, sig)
        assert (code, orphans) == (EXIT_ON[sig], set()), stderr_of(tmp_path)
        assert stderr_of(tmp_path).strip().splitlines()[-1] == f"error: stopped by {sig.name}"
        assert not [p for p in landing.rglob("*") if p.name.endswith(".tmp")]
        resumed = loyalty(args, tmp_path, **env)  # the lock is free again
        assert resumed.wait(120) == 0, stderr_of(tmp_path)
    assert [r["id"] for r in landed(landing, "redemptions")] == [f"r_{n:05d}" for n in range(2000)]


@pytest.mark.parametrize("command", ["run", "demo"])
def test_run_and_demo_stop_mid_build_recording_the_run_as_failed(landing_copy, tmp_path, command):
    """SIGTERM while dbt builds: the run stops within seconds, records itself failed, publishes nothing and
    frees its lock; the next run starts at once."""
    warehouse = tmp_path / "published" / "warehouse.duckdb"
    env = {"LOYALTY_LANDING": str(landing_copy), "LOYALTY_WAREHOUSE": str(warehouse)}
    args = ["run"] if command == "run" else ["demo", "--port", str(free_port())]
    process = loyalty(args, tmp_path, **env)
    wait_for(lambda: "build…" in stderr_of(tmp_path), process, "the build starting")
    time.sleep(1)  # into dbt
    code, seconds, orphans = stop(process, signal.SIGTERM)
    assert (code, orphans) == (EXIT_ON[signal.SIGTERM], set()), stderr_of(tmp_path)
    assert stderr_of(tmp_path).strip().splitlines()[-1] == "error: stopped by SIGTERM"
    assert not warehouse.exists()
    records = [json.loads(line) for line in run_log_path_for(warehouse).read_text().splitlines()]
    assert [r["outcome"] for r in records] == ["running", "failed"]
    assert records[-1]["error"] == "stopped by SIGTERM"
    with run_lock(warehouse):
        pass


def test_demo_stopped_while_generating_leaves_no_half_world(tmp_path):
    """The next demo would take a half-written sample for data; it must find nothing, or the whole world."""
    landing = tmp_path / "landing"
    env = {"LOYALTY_LANDING": str(landing), "LOYALTY_WAREHOUSE": str(tmp_path / "warehouse.duckdb")}
    process = loyalty(["demo", "--port", str(free_port())], tmp_path, **env)
    staging = tmp_path / ".landing.generating"
    wait_for(lambda: any(p.is_file() for p in staging.rglob("*")), process, "the sample being written")
    code, seconds, orphans = stop(process, signal.SIGTERM)
    assert (code, orphans) == (EXIT_ON[signal.SIGTERM], set()), stderr_of(tmp_path)
    assert not any(p.is_file() for p in landing.rglob("*")) if landing.exists() else True
    shutil.rmtree(staging, ignore_errors=True)
