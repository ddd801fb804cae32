"""Publishing: readers keep answering while `loyalty run` builds and publishes, and never see half a build."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from loyalty.errors import LoyaltyError
from loyalty.publish import next_path_for, prepare_next, publish, wal_path_for

# One answer = one consistent picture of a build: its run history, raw layer and marts together.
SIGNATURE_SQL = """
select cast((select count(*) from ops.runs) as varchar) as runs,
       (select max(run_id) from ops.runs) as last_run,
       cast((select count(*) from raw.voucherify_webhooks) as varchar) as webhooks,
       cast((select count(*) from marts.fct_redemptions) as varchar) as redemptions,
       cast((select sum(points) from marts.fct_loyalty_points) as varchar) as points
"""

# A dashboard reader in its own process, through the dashboards' own read-only access (uncached, so it
# sees every publish), querying as fast as it can.
READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from dashboards import db

    warehouse, stop, sql = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    while not stop.exists():
        started = time.monotonic()
        try:
            answer = [str(v) for v in db.query_uncached(sql, path=warehouse).iloc[0].tolist()]
            print(json.dumps({"answer": answer, "seconds": time.monotonic() - started}), flush=True)
        except Exception as exc:
            print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}), flush=True)
    """
)


def signature(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [str(v) for v in con.execute(SIGNATURE_SQL).fetchone()]


def run_cli(landing: Path, warehouse: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "run", "--landing", str(landing), "--warehouse", str(warehouse)],
        capture_output=True,
        text=True,
        timeout=600,
    )


def hold_back_latest_webhooks(landing: Path, parking: Path) -> list[Path]:
    """Move the newest webhook file out of the landing, to arrive late in a later run."""
    files = sorted(p for p in (landing / "voucherify" / "webhooks").rglob("*") if p.is_file())
    moved = []
    for source in files[-1:]:
        target = parking / source.relative_to(landing)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
        moved.append(target)
    return moved


@pytest.mark.slow
def test_readers_keep_answering_during_two_publishes_and_only_ever_see_whole_builds(landing_copy, tmp_path):
    warehouse = tmp_path / "published" / "warehouse.duckdb"
    parking = tmp_path / "parking"
    held_back = hold_back_latest_webhooks(landing_copy, parking)
    assert held_back

    first = run_cli(landing_copy, warehouse)
    assert first.returncode == 0, first.stderr
    builds = [signature(warehouse)]

    stop = tmp_path / "stop-readers"
    # Answers go to files, not pipes: a full pipe nobody drains would stall the readers mid-test.
    answer_files = [tmp_path / f"reader-{i}.ndjson" for i in range(2)]
    readers = [
        subprocess.Popen([sys.executable, "-c", READER, str(warehouse), str(stop), SIGNATURE_SQL], stdout=out.open("w"))
        for out in answer_files
    ]
    try:
        time.sleep(1)  # readers are answering before the run starts
        for parked in held_back:  # late data arrives: the next build differs in raw and marts
            shutil.move(parked, landing_copy / parked.relative_to(parking))
        started = time.monotonic()
        second = run_cli(landing_copy, warehouse)
        assert second.returncode == 0, second.stderr
        builds.append(signature(warehouse))
        third = run_cli(landing_copy, warehouse)
        assert third.returncode == 0, third.stderr
        builds.append(signature(warehouse))
        runs_took = time.monotonic() - started
        time.sleep(1)
    finally:
        stop.touch()
        for reader in readers:
            reader.wait(timeout=60)

    assert [reader.returncode for reader in readers] == [0, 0]
    answers = [json.loads(line) for out in answer_files for line in out.read_text().splitlines()]
    errors = [a["error"] for a in answers if "error" in a]
    assert errors == []
    seen = [a["answer"] for a in answers]
    assert len(seen) > 20, "the readers barely ran: the test proved nothing"
    assert builds[0][2] != builds[1][2] and len({b[1] for b in builds}) == 3  # three different published builds
    assert all(answer in builds for answer in seen), [a for a in seen if a not in builds][:3]
    assert {tuple(b) for b in builds} <= {tuple(a) for a in seen}  # readers saw both swaps happen
    # Readers never blocked the run: both runs finished, and no single query waited on the writer.
    assert runs_took < 600 and max(a["seconds"] for a in answers if "answer" in a) < 30


def test_prepare_next_discards_a_leftover_next_from_a_crashed_run(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table published as select 1 as x")
    leftover = next_path_for(warehouse)
    with duckdb.connect(str(leftover)) as con:
        con.execute("create table half_built as select 1 as x")
    wal_path_for(leftover).write_bytes(b"torn")

    next_path = prepare_next(warehouse)

    assert not wal_path_for(next_path).exists()
    with duckdb.connect(str(next_path), read_only=True) as con:
        tables = {t for (t,) in con.execute("select table_name from information_schema.tables").fetchall()}
    assert tables == {"published"}


def test_publish_refuses_a_build_that_was_not_checkpointed(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    next_path = next_path_for(warehouse)
    with duckdb.connect(str(next_path)) as con:
        con.execute("create table t as select 1 as x")
    wal_path_for(next_path).write_bytes(b"pending changes")
    with pytest.raises(LoyaltyError, match="not checkpointed"):
        publish(next_path, warehouse)
    assert not warehouse.exists()


def test_publish_replaces_the_warehouse_while_a_reader_holds_the_old_one(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create table t as select 'old' as build")
    reader = duckdb.connect(str(warehouse), read_only=True)
    try:
        next_path = prepare_next(warehouse)
        with duckdb.connect(str(next_path)) as con:
            con.execute("update t set build = 'new'")
        publish(next_path, warehouse)
        assert reader.execute("select build from t").fetchone() == ("old",)  # its snapshot stays valid
    finally:
        reader.close()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select build from t").fetchone() == ("new",)
    assert not next_path.exists()


def _raw_build(path: Path, deliveries: int) -> None:
    """A build whose raw layer holds `deliveries` webhook rows, written like ingest writes it."""
    from ingest.raw_schema import DDL

    with duckdb.connect(str(path)) as con:
        con.execute(DDL)
        con.execute(
            "insert into raw.voucherify_webhooks (event_id, event_type, created_at) "
            "select 'evt_' || i, 'a.b', now() from range(?) t(i)",
            [deliveries],
        )


def test_a_process_holding_the_old_build_still_sees_the_new_one_after_a_publish(tmp_path, capsys):
    """DuckDB caches one database per path and process: `duckdb.connect(path)` in a process that still holds
    a connection to the replaced file answers from the old build. The project's readers must not."""
    from dashboards import db
    from loyalty.status import status

    warehouse = tmp_path / "warehouse.duckdb"
    _raw_build(warehouse, 1)
    held = duckdb.connect(str(warehouse), read_only=True)  # e.g. a notebook, or a dashboard session
    next_path = next_path_for(warehouse)
    _raw_build(next_path, 2)
    publish(next_path, warehouse)

    status(warehouse, 1e6, as_json=True)
    sources = {s["source"]: s["rows"] for s in json.loads(capsys.readouterr().out)["sources"]}
    assert sources["voucherify_webhooks"] == 2
    assert db.query_uncached("select count(*) from raw.voucherify_webhooks", path=warehouse).iloc[0, 0] == 2
    assert held.execute("select count(*) from raw.voucherify_webhooks").fetchone() == (1,)  # its own snapshot
    held.close()
