"""`loyalty run`: run records, the lock, and a failed run that leaves the published warehouse alone.

Real `loyalty` subprocesses on real DuckDB files and real dbt builds.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ingest.landing import SOURCES, WEBHOOKS_DIR
from loyalty.build import state_dir_for
from loyalty.errors import EXIT_FAILED, EXIT_LOCKED
from loyalty.lock import lock_path_for
from loyalty.publish import next_path_for
from loyalty.run import run_log_path_for


def loyalty(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loyalty.cli", *args], capture_output=True, text=True, **kwargs)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def published_copy(built_world, tmp_path: Path) -> Path:
    """A private published warehouse, as the scheduled job left it after its first run."""
    warehouse = tmp_path / "published" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    shutil.copyfile(built_world.warehouse, warehouse)
    return warehouse


def test_first_run_records_rows_per_source_and_dbt_results_in_ops_runs(built_world):
    with built_world.connect() as con:
        runs = con.execute(
            "select run_id, outcome, rows_loaded, rows_rejected, dbt_results, finished_at > started_at from ops.runs"
        ).fetchall()
        assert len(runs) == 1
        run_id, outcome, rows_loaded, rows_rejected, dbt_results, ordered = runs[0]
        assert outcome == "succeeded" and ordered
        rows_loaded, dbt_results = json.loads(rows_loaded), json.loads(dbt_results)
        # Every row in the raw layer was loaded by this one run, and the record says so per source.
        for source in SOURCES.values():
            in_raw = con.execute(f"select count(*) from {source.raw_table} where {source.raw_filter}").fetchone()[0]
            assert rows_loaded.get(source.name, 0) == in_raw, source.name
        assert (
            rows_loaded["voucherify_webhooks"] > 0
            and rows_loaded["segment_warehouse"] + rows_loaded.get("segment_archive", 0) > 0
        )
        rejected_in_raw = con.execute("select count(*) from raw.rejected_records").fetchone()[0]
        assert sum(json.loads(rows_rejected).values()) == rejected_in_raw
        models_built = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts'"
        ).fetchone()[0]
    assert dbt_results["problems"] == []
    assert dbt_results["counts"].get("success", 0) >= models_built > 0
    assert dbt_results["counts"].get("pass", 0) > 0  # the data tests ran too
    log = [json.loads(line) for line in run_log_path_for(built_world.warehouse).read_text().splitlines()]
    assert [(r["run_id"], r["outcome"]) for r in log] == [(run_id, "running"), (run_id, "succeeded")]


@pytest.mark.slow
def test_json_flag_prints_the_run_record_as_one_line_and_a_rerun_loads_nothing_new(built_world, tmp_path):
    warehouse = published_copy(built_world, tmp_path)
    result = loyalty("run", "--landing", str(built_world.landing), "--warehouse", str(warehouse), "--json", timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout  # ingest progress and dbt logs went to stderr
    record = json.loads(lines[0])
    assert record["outcome"] == "succeeded" and record["error"] is None
    assert record["started_at"] < record["finished_at"]
    assert sum(record["rows_loaded"].values()) == 0  # same landing again: idempotent ingest
    assert record["dbt_results"]["problems"] == [] and record["dbt_results"]["counts"]["success"] > 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = con.execute(
            "select run_id, outcome, json_extract(dbt_results, '$.counts') from ops.runs order by started_at"
        ).fetchall()
    assert [r[0] for r in stored][-1] == record["run_id"] and len(stored) == 2
    assert json.loads(stored[-1][2]) == record["dbt_results"]["counts"]
    assert not next_path_for(warehouse).exists()


@pytest.mark.slow
def test_second_run_exits_4_at_once_naming_the_holder_while_the_first_runs(built_world, tmp_path):
    warehouse = published_copy(built_world, tmp_path)
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loyalty.cli",
            "run",
            "--landing",
            str(built_world.landing),
            "--warehouse",
            str(warehouse),
            "--full-refresh",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = lock_path_for(warehouse)
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text().strip() == str(first.pid)):
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.05)
        started = time.monotonic()
        second = loyalty("run", "--landing", str(built_world.landing), "--warehouse", str(warehouse), timeout=60)
        waited = time.monotonic() - started
        assert first.poll() is None, "the first run ended before the second was refused: the test proved nothing"
    finally:
        out, err = first.communicate(timeout=600)
    assert second.returncode == EXIT_LOCKED
    assert second.stderr.startswith("error: ") and len(second.stderr.strip().splitlines()) == 1
    assert f"pid {first.pid}" in second.stderr and "Traceback" not in second.stderr
    assert second.stdout == ""
    assert waited < 15  # exits at once instead of waiting for the lock (interpreter start-up only)
    assert first.returncode == 0, err
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from ops.runs").fetchone()[0] == 2  # the refused run left no record


def webhook_bodies(landing: Path):
    """Every well-formed delivery of the landing's webhook files (the generator also writes one cut-off line)."""
    for path in sorted((landing / WEBHOOKS_DIR).rglob("*.ndjson*")):
        with (gzip.open if path.suffix == ".gz" else open)(path, "rt", encoding="utf-8") as lines:
            for raw in lines:
                try:
                    yield json.loads(raw)
                except json.JSONDecodeError:
                    continue


def break_a_data_test(landing: Path) -> None:
    """Land one redemption whose `result` is neither SUCCESS nor FAILURE: the accepted_values test must fail."""
    line = next(
        body for body in webhook_bodies(landing) if body.get("type") == "redemption.succeeded" and "event" in body
    )
    line["id"] = "whs_breaks_the_build"
    line["event"]["id"] = "evred_breaks_the_build"
    line["data"]["redemption"]["id"] = "r_breaks_the_build"
    line["data"]["redemption"]["result"] = "HALF_SUCCESS"
    target = landing / WEBHOOKS_DIR / "zz-broken.ndjson"
    target.write_text(json.dumps(line) + "\n")


@pytest.mark.slow
def test_a_failed_build_leaves_the_published_warehouse_byte_identical_and_readable(built_world, landing_copy, tmp_path):
    warehouse = published_copy(built_world, tmp_path)
    before = sha256(warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts_before = con.execute("select count(*), sum(discount_amount) from marts.fct_redemptions").fetchone()
    break_a_data_test(landing_copy)

    reader = duckdb.connect(str(warehouse), read_only=True)  # a dashboard holding the published file open
    try:
        failed = loyalty("run", "--landing", str(landing_copy), "--warehouse", str(warehouse), "--json", timeout=600)
        assert (
            reader.execute("select count(*), sum(discount_amount) from marts.fct_redemptions").fetchone()
            == marts_before
        )
    finally:
        reader.close()

    assert failed.returncode == EXIT_FAILED
    assert failed.stderr.strip().splitlines()[-1].startswith("error: run ")
    assert "left unchanged" in failed.stderr and "Traceback" not in failed.stderr
    record = json.loads(failed.stdout)
    assert record["outcome"] == "failed" and record["dbt_results"]["problems"]
    assert any("result" in p["node"] for p in record["dbt_results"]["problems"]), record["dbt_results"]["problems"]
    assert sha256(warehouse) == before
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert (
            con.execute("select count(*), sum(discount_amount) from marts.fct_redemptions").fetchone() == marts_before
        )
        assert con.execute("select count(*) from ops.runs").fetchone()[0] == 1
    assert json.loads(run_log_path_for(warehouse).read_text().splitlines()[-1])["run_id"] == record["run_id"]

    # The monitor sees the failure; the next good run discards the failed attempt and publishes.
    status = loyalty("status", "--warehouse", str(warehouse), "--stale-after-hours", "1000000", "--json", timeout=120)
    assert json.loads(status.stdout)["runs"][0]["outcome"] == "failed"
    (landing_copy / WEBHOOKS_DIR / "zz-broken.ndjson").unlink()
    fixed = loyalty("run", "--landing", str(landing_copy), "--warehouse", str(warehouse), "--full-refresh", timeout=600)
    assert fixed.returncode == 0, fixed.stderr
    assert not next_path_for(warehouse).exists()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        outcomes = con.execute("select outcome from ops.runs order by started_at").fetchall()
    assert [o for (o,) in outcomes] == ["succeeded", "failed", "succeeded"]  # the failure is in the history too
    # dbt's state is kept beside the warehouse from run to run: the second build of this folder parsed nothing.
    last_build_log = (state_dir_for(warehouse) / "logs" / "dbt.log").read_text().split("Running with dbt=")[-1]
    assert "Partial parsing enabled, no changes found, skipping parsing" in last_build_log


def test_a_missing_landing_folder_fails_without_touching_the_published_warehouse(built_world, tmp_path):
    warehouse = published_copy(built_world, tmp_path)
    before = sha256(warehouse)
    result = loyalty("run", "--landing", str(tmp_path / "nowhere"), "--warehouse", str(warehouse), timeout=120)
    assert result.returncode == EXIT_FAILED
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("error: run ") and "does not exist" in last_line and "Traceback" not in result.stderr
    assert sha256(warehouse) == before
    assert json.loads(run_log_path_for(warehouse).read_text().splitlines()[-1])["outcome"] == "failed"


@pytest.mark.slow
def test_a_run_killed_mid_way_frees_the_lock_keeps_the_published_file_and_shows_as_crashed(built_world, tmp_path):
    warehouse = published_copy(built_world, tmp_path)
    before = sha256(warehouse)
    victim = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loyalty.cli",
            "run",
            "--landing",
            str(built_world.landing),
            "--warehouse",
            str(warehouse),
            "--full-refresh",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not next_path_for(warehouse).exists():  # copied: ingest or build is under way
        assert victim.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    victim.kill()
    victim.wait(timeout=30)
    assert sha256(warehouse) == before

    status = loyalty("status", "--warehouse", str(warehouse), "--stale-after-hours", "1000000", "--json", timeout=120)
    last = json.loads(status.stdout)["runs"][0]
    assert last["outcome"] == "crashed" and "killed" in last["error"]

    after = loyalty("run", "--landing", str(built_world.landing), "--warehouse", str(warehouse), timeout=600)
    assert after.returncode == 0, after.stderr  # the kernel released the dead run's lock
    with duckdb.connect(str(warehouse), read_only=True) as con:
        outcomes = [o for (o,) in con.execute("select outcome from ops.runs order by started_at").fetchall()]
    assert outcomes == ["succeeded", "crashed", "succeeded"]
