"""The raw layer as immutable Parquet files, for engines that read files instead of the DuckDB file (Spark).

DuckDB's raw tables stay the raw layer of record; this is a copy of every committed ingest batch, written
once and never changed:

    <folder>/<raw table>/batch=<batch_id>/part-0.parquet   the batch's rows of that table (columns as in
                                                            ingest/raw_schema.py; none when it has none)
    <folder>/_committed/<batch_id>.json                     written last: the batch is complete

A changed landing file is loaded again in a later batch and DuckDB deletes the old version's rows; the old
batch's Parquet file keeps them. The manifest decides which rows are live, exactly as in DuckDB: a row is
live when its (_file, _batch_id) is the file's current entry in raw.ingest_files. Readers take a snapshot of
the manifest (`write_manifest_snapshot`) and keep only those rows, so a batch written by a run that was never
published (or later replaced) is never seen.

Writing is idempotent: a batch is written when the manifest names it and its commit marker is missing, so a
re-run of an unchanged landing writes nothing, a run that crashed before writing is caught up by the next
ingest or Spark build, and a crash mid-write leaves only hidden temporary folders (names starting with `.`,
which Spark and DuckDB's globbing ignore), swept once the batch is committed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb

from ingest.durable import fsync_path
from ingest.errors import IngestError
from ingest.raw_schema import RAW_SCHEMA

COMMITTED = "_committed"
PART = "part-0.parquet"
# The manifest snapshot readers filter with: raw.ingest_files as of the build (see module doc).
MANIFEST_TABLES = ("ingest_files", "ingest_batches")
_BATCH_ID = re.compile(r"^[0-9A-Za-z_-]+$")


def default_folder(warehouse: Path) -> Path:
    """Where the Parquet raw layer of a warehouse file lives unless configured: `<warehouse>.raw/`.

    Keyed to the published warehouse, never to a run's working copy: batches are immutable and the
    manifest inside each DuckDB file says which of them are live, so every copy can share one folder."""
    return warehouse.with_name(warehouse.name + ".raw")


def batch_tables(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Raw tables written per batch → the column naming each row's landing file (`_file`, or `file_path` in
    the quarantine). Derived from the live schema: those whose rows carry a `_batch_id`, so a raw table
    added to ingest/raw_schema.py is written too."""
    rows = con.execute(
        """
        select table_name, max(case when column_name = '_file' then 1 else 0 end) = 1
        from information_schema.columns
        where table_schema = ?
        group by table_name
        having max(case when column_name = '_batch_id' then 1 else 0 end) = 1
        order by table_name
        """,
        [RAW_SCHEMA],
    ).fetchall()
    return {name: "_file" if has_file else "file_path" for name, has_file in rows}


def committed_batches(folder: Path) -> set[str]:
    marker_dir = folder / COMMITTED
    if not marker_dir.is_dir():
        return set()
    return {p.stem for p in marker_dir.glob("*.json")}


def write_new_batches(
    con: duckdb.DuckDBPyConnection, folder: Path, *, on_batch: Callable[[str, dict[str, int]], None] | None = None
) -> list[str]:
    """Write every batch the manifest names that `folder` does not hold yet; return their ids in order.

    Reads only (a read-only connection will do). `on_batch(batch_id, rows_per_table)` reports progress."""
    folder = Path(folder)
    if not _has_manifest(con):
        return []
    done = committed_batches(folder)
    wanted = [
        batch_id
        for (batch_id,) in con.execute(
            f"select distinct batch_id from {RAW_SCHEMA}.ingest_files order by batch_id"
        ).fetchall()
        if batch_id not in done
    ]
    if not wanted:
        _sweep_temporaries(folder, done)
        return []
    tables = batch_tables(con)
    try:
        for batch_id in wanted:
            rows = {table: _write_table_batch(con, folder, table, batch_id) for table in tables}
            _write_marker(folder, batch_id, rows)
            if on_batch is not None:
                on_batch(batch_id, rows)
    except OSError as exc:
        raise IngestError(f"cannot write the Parquet raw layer in {folder}: {exc}") from exc
    _sweep_temporaries(folder, done | set(wanted))
    return wanted


def write_manifest_snapshot(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """The manifest as of now, for readers of the Parquet layer: `<folder>/<table>/part-0.parquet` per
    manifest table, each replaced atomically."""
    for table in MANIFEST_TABLES:
        target = Path(folder) / table
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".{PART}.{uuid.uuid4().hex}.tmp"
        con.execute(f"copy (select * from {RAW_SCHEMA}.{table}) to '{_sql_path(tmp)}' (format parquet)")
        os.replace(tmp, target / PART)


def _has_manifest(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = 'ingest_files'",
            [RAW_SCHEMA],
        ).fetchone()[0]
    )


def _write_table_batch(con: duckdb.DuckDBPyConnection, folder: Path, table: str, batch_id: str) -> int:
    """One table's rows of one batch as `<table>/batch=<id>/part-0.parquet`; returns the row count."""
    if not _BATCH_ID.match(batch_id):
        raise IngestError(f"unexpected batch id {batch_id!r} in {RAW_SCHEMA}.ingest_files")
    final = folder / table / f"batch={batch_id}"
    if final.is_dir():  # written by an earlier attempt that crashed before its marker: complete (renamed whole)
        return _rows_in(con, final / PART)
    tmp = folder / table / f".batch={batch_id}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir(parents=True)
    part = tmp / PART
    count = con.execute(
        f"""copy (select * from {RAW_SCHEMA}.{table} where _batch_id = '{batch_id}')
            to '{_sql_path(part)}' (format parquet, compression zstd)"""
    ).fetchone()[0]
    if count == 0:
        shutil.rmtree(tmp)
        return 0
    fsync_path(part)
    try:
        os.rename(tmp, final)
    except OSError:
        if not final.is_dir():
            raise
        shutil.rmtree(tmp)  # another process wrote the same batch meanwhile: same rows, keep theirs
    fsync_path(final.parent)
    return int(count)


def _rows_in(con: duckdb.DuckDBPyConnection, part: Path) -> int:
    return int(con.execute(f"select count(*) from read_parquet('{_sql_path(part)}')").fetchone()[0])


def _write_marker(folder: Path, batch_id: str, rows: dict[str, int]) -> None:
    marker_dir = folder / COMMITTED
    marker_dir.mkdir(parents=True, exist_ok=True)
    tmp = marker_dir / f".{batch_id}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps({"batch_id": batch_id, "rows": rows}, sort_keys=True))
    fsync_path(tmp)
    os.replace(tmp, marker_dir / f"{batch_id}.json")
    fsync_path(marker_dir)


def _sweep_temporaries(folder: Path, committed: set[str]) -> None:
    """Remove what crashed writers left of batches that are committed since (nobody writes those any more)."""
    if not folder.is_dir():
        return
    for table_dir in folder.iterdir():
        if not table_dir.is_dir() or table_dir.name == COMMITTED:
            continue
        for entry in table_dir.iterdir():
            match = re.match(r"^\.batch=([^.]+)\..*\.tmp$", entry.name)
            if match and match.group(1) in committed:
                shutil.rmtree(entry, ignore_errors=True)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
