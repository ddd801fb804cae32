"""The Parquet raw layer (ingest/parquet_layer.py): live rows equal DuckDB's raw tables through re-runs,
changed files and crashes; batches are written once and never changed.

"Live" is computed here a second, independent way (DuckDB's read_parquet and a semi join on the manifest
snapshot), not with the Spark views of macros/cross_db/raw_sources.sql, which tests/test_spark_engine.py checks.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ingest import load_landing
from ingest.parquet_layer import COMMITTED, PART, committed_batches, write_manifest_snapshot, write_new_batches

LINEAGE_KEYS = {  # table → the column naming each row's landing file
    "voucherify_webhooks": "_file",
    "voucherify_exports": "_file",
    "voucherify_api_objects": "_file",
    "segment_events": "_file",
    "rejected_records": "file_path",
}


def live_rows(pool: Path, snapshot: Path, table: str) -> list[tuple]:
    files = list((pool / table).glob("batch=*/" + PART))
    if not files:
        return []
    key = LINEAGE_KEYS[table]
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(
            f"""
            select * from read_parquet(?, hive_partitioning = false) as p
            where exists (
                select 1 from read_parquet(?) as m where m.file_path = p.{key} and m.batch_id = p._batch_id
            )
            order by all
            """,
            [[str(f) for f in files], str(snapshot / "ingest_files" / PART)],
        ).fetchall()


def duckdb_rows(warehouse: Path, table: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(f"select * from raw.{table} order by all").fetchall()


def assert_pool_equals_duckdb(warehouse: Path, pool: Path, tmp_path: Path) -> None:
    snapshot = tmp_path / "manifest-snapshot"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        write_manifest_snapshot(con, snapshot)
    for table in LINEAGE_KEYS:
        expected = duckdb_rows(warehouse, table)
        assert live_rows(pool, snapshot, table) == expected, table


def pool_files(pool: Path) -> dict[str, float]:
    return {str(p.relative_to(pool)): p.stat().st_mtime_ns for p in pool.rglob("*") if p.is_file()}


def test_every_batch_lands_once_and_equals_the_raw_tables(landing_copy, tmp_path):
    warehouse, pool = tmp_path / "w.duckdb", tmp_path / "w.duckdb.raw"
    first = load_landing(landing_copy, warehouse, progress=False, raw_parquet=pool)
    assert first.rows_loaded > 1000
    assert committed_batches(pool) == {first.batch_id}
    marker = json.loads((pool / COMMITTED / f"{first.batch_id}.json").read_text())
    assert sum(marker["rows"].values()) == first.rows_loaded + marker["rows"]["rejected_records"]
    assert_pool_equals_duckdb(warehouse, pool, tmp_path)

    # An unchanged landing: a new (empty) ingest batch, not a single new or rewritten file.
    before = pool_files(pool)
    second = load_landing(landing_copy, warehouse, progress=False, raw_parquet=pool)
    assert second.files_loaded == 0
    assert pool_files(pool) == before

    # A changed file: DuckDB swaps the old version's rows for the new ones; the old batch's Parquet file keeps
    # them but they are no longer live, and the new version lands in a new batch.
    changed = sorted((landing_copy / "voucherify" / "webhooks").rglob("*.ndjson"))[0]
    lines = changed.read_text().splitlines(keepends=True)
    changed.write_text("".join(lines[1:]) + "{not json\n")
    third = load_landing(landing_copy, warehouse, progress=False, raw_parquet=pool)
    assert third.files_loaded == 1 and third.rejected_total == 1
    assert committed_batches(pool) == {first.batch_id, third.batch_id}
    assert all(pool_files(pool)[name] == mtime for name, mtime in before.items())  # immutable
    assert_pool_equals_duckdb(warehouse, pool, tmp_path)


def test_a_crash_before_or_during_the_write_is_caught_up_and_never_half_visible(landing_copy, tmp_path):
    warehouse, pool = tmp_path / "w.duckdb", tmp_path / "w.duckdb.raw"
    report = load_landing(landing_copy, warehouse, progress=False)  # as if the process died before writing
    assert not pool.exists()

    # A writer killed mid-file left a hidden temporary folder; one killed after the rename, no marker.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert write_new_batches(con, pool) == [report.batch_id]
    torn = pool / "voucherify_webhooks" / f".batch={report.batch_id}.0123.tmp"
    torn.mkdir()
    (torn / PART).write_bytes(b"PAR1 torn")
    (pool / COMMITTED / f"{report.batch_id}.json").unlink()

    # Nothing of the torn write is visible to readers of the folder...
    assert_pool_equals_duckdb(warehouse, pool, tmp_path)
    # ...and the next writer (an ingest with nothing new, or a Spark build) completes the batch and sweeps it.
    again = load_landing(landing_copy, warehouse, progress=False, raw_parquet=pool)
    assert again.files_loaded == 0
    assert committed_batches(pool) == {report.batch_id}
    assert not torn.exists()
    assert_pool_equals_duckdb(warehouse, pool, tmp_path)


def test_a_batch_no_manifest_names_is_never_live(landing_copy, tmp_path):
    """`loyalty run` ingests into a copy: a run that fails after writing its batches publishes nothing, and the
    published manifest does not name those batches, so readers of the shared folder do not see them."""
    published, pool = tmp_path / "w.duckdb", tmp_path / "w.duckdb.raw"
    load_landing(landing_copy, published, progress=False, raw_parquet=pool)
    failed_copy = tmp_path / "w.duckdb.next"
    shutil.copyfile(published, failed_copy)
    extra = landing_copy / "voucherify" / "exports" / "order" / "late.csv"
    extra.write_text("id,amount\nord_late_1,1000\n")
    orphan = load_landing(landing_copy, failed_copy, progress=False, raw_parquet=pool)
    assert orphan.rows_loaded == 1 and orphan.batch_id in committed_batches(pool)
    assert_pool_equals_duckdb(published, pool, tmp_path)  # the published manifest: the orphan batch is not live
    assert_pool_equals_duckdb(failed_copy, pool, tmp_path)


@pytest.mark.parametrize("bad", ["../escape", "a'b"])
def test_batch_ids_are_never_pasted_into_paths_or_sql_unchecked(tmp_path, bad):
    warehouse, pool = tmp_path / "w.duckdb", tmp_path / "pool"
    with duckdb.connect(str(warehouse)) as con:
        from ingest.raw_schema import DDL

        con.execute(DDL)
        con.execute("insert into raw.ingest_files values ('f', 's', 1, 'h', ?, 0, 0, now())", [bad])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        from ingest.errors import IngestError

        with pytest.raises(IngestError, match="unexpected batch id"):
            write_new_batches(con, pool)
