"""`loyalty status`: what a monitor reads (exit code 5 when stale) and what an operator reads."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import duckdb
import pandas as pd

from dashboards import db, queries
from ingest import load_landing
from ingest.landing import EXPORTS_DIR, SOURCES
from loyalty.errors import EXIT_FAILED, EXIT_OK, EXIT_STALE


def loyalty(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "loyalty.cli", *args], capture_output=True, text=True, timeout=120)


def status_json(warehouse, threshold_hours: float) -> tuple[int, dict]:
    result = loyalty("status", "--warehouse", str(warehouse), "--stale-after-hours", str(threshold_hours), "--json")
    assert result.returncode in {EXIT_OK, EXIT_STALE}, result.stderr
    return result.returncode, json.loads(result.stdout)


def test_status_reports_each_source_newest_record_from_the_raw_tables(built_world):
    _, report = status_json(built_world.warehouse, 1e9)
    by_source = {s["source"]: s for s in report["sources"]}
    with built_world.connect() as con:
        newest_webhook, webhooks = con.execute(
            "select max(created_at), count(*) from raw.voucherify_webhooks"
        ).fetchone()
        newest_segment, segment_rows = con.execute(
            "select max(received_at), count(*) from raw.segment_events where origin = 'warehouse'"
        ).fetchone()
        rejected = dict(con.execute("select source, count(*) from raw.rejected_records group by source").fetchall())
    assert by_source["voucherify_webhooks"]["rows"] == webhooks > 0
    assert by_source["voucherify_webhooks"]["newest_record_at"] == newest_webhook.isoformat()
    assert by_source["segment_warehouse"]["rows"] == segment_rows > 0
    assert by_source["segment_warehouse"]["newest_record_at"] == newest_segment.isoformat()
    assert by_source["voucherify_webhooks"]["last_loaded_at"] is not None
    assert report["rejected_records"] == rejected
    assert report["runs"][0]["outcome"] == "succeeded"


def test_exit_code_tells_a_monitor_whether_any_source_is_older_than_the_threshold(built_world):
    _, report = status_json(built_world.warehouse, 1e9)
    oldest_age = max(s["age_hours"] for s in report["sources"] if s["age_hours"] is not None)
    assert oldest_age > 0

    code, fresh = status_json(built_world.warehouse, oldest_age + 1)
    assert code == EXIT_OK and not fresh["stale"] and not any(s["stale"] for s in fresh["sources"])

    code, stale = status_json(built_world.warehouse, oldest_age / 2)
    assert code == EXIT_STALE and stale["stale"]
    assert [s["source"] for s in stale["sources"] if s["stale"]]  # names the culprit

    human = loyalty("status", "--warehouse", str(built_world.warehouse), "--stale-after-hours", str(oldest_age / 2))
    assert human.returncode == EXIT_STALE
    assert "STALE" in human.stdout and "voucherify_webhooks" in human.stdout and "succeeded" in human.stdout


def test_status_of_a_missing_warehouse_is_one_clear_line(tmp_path):
    result = loyalty("status", "--warehouse", str(tmp_path / "absent.duckdb"))
    assert result.returncode == EXIT_FAILED
    assert result.stderr.strip().splitlines() == [
        f"error: no warehouse at {tmp_path / 'absent.duckdb'}: run `loyalty run` first (or pass --warehouse)"
    ]


def test_a_warehouse_without_any_data_is_stale(tmp_path):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    code, report = status_json(empty, 26)
    assert code == EXIT_STALE and report["stale"]
    assert all(s["rows"] == 0 for s in report["sources"]) and report["runs"] == []


def _newest_export_batch(con: duckdb.DuckDBPyConnection) -> datetime:
    """When the newest export rows arrived, from the ingest bookkeeping rather than the rows."""
    return con.execute(
        """select max(b.started_at) from raw.ingest_batches as b
           where b.batch_id in (select batch_id from raw.ingest_files where source = 'voucherify_exports')"""
    ).fetchone()[0]


def test_an_export_is_dated_by_when_it_arrived_not_by_the_dates_in_its_rows(tmp_path):
    """A snapshot made today is current even if every row in it is old (and one names a future expiry)."""
    landing = tmp_path / "landing"
    exports = landing / EXPORTS_DIR
    (exports / "customer").mkdir(parents=True)
    (exports / "customer" / "c.csv").write_text(
        "id,source_id,created_at,updated_at\ncust_1,c-1,2024-05-01T08:00:00Z,2024-05-03T09:30:00Z\n"
    )
    (exports / "points_expiration").mkdir()
    (exports / "points_expiration" / "p.csv").write_text("id,points,expires_at\nlpe_1,10,2999-01-01T00:00:00Z\n")
    warehouse = tmp_path / "warehouse.duckdb"
    before = datetime.now(UTC)
    load_landing(landing, warehouse, progress=False)
    _, report = status_json(warehouse, 26)
    exports_status = next(s for s in report["sources"] if s["source"] == "voucherify_exports")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        arrived = _newest_export_batch(con)
    assert exports_status["rows"] == 2 and not exports_status["stale"]
    assert datetime.fromisoformat(exports_status["newest_record_at"]) == arrived >= before


def test_status_and_the_data_health_page_date_every_source_the_same_way(built_world):
    """One registry: status and the page agree per source, and each date is the vendor's server time."""
    _, report = status_json(built_world.warehouse, 1e9)
    by_status = {s["source"]: (s["rows"], s["newest_record_at"]) for s in report["sources"]}
    page = db.query_uncached(queries.SOURCE_FRESHNESS, path=built_world.warehouse)
    by_page = {
        row.source: (row.rows, None if pd.isna(row.newest_record_at) else row.newest_record_at.isoformat())
        for row in page.itertuples()
    }
    assert by_page == by_status and set(by_status) == set(SOURCES)
    with built_world.connect() as con:
        # Segment: received_at (set by Segment's servers), not the device's timestamp, which differs here.
        newest_received, newest_timestamp = con.execute(
            "select max(received_at), max(\"timestamp\") from raw.segment_events where origin = 'warehouse'"
        ).fetchone()
        newest_export = _newest_export_batch(con)
    assert newest_received != newest_timestamp
    assert by_status["segment_warehouse"][1] == newest_received.isoformat()
    assert datetime.fromisoformat(by_status["voucherify_exports"][1]) == newest_export
