"""Atomic publishing: build in `<warehouse>.next`, then swap it over the published file in one rename.

Readers open `<warehouse>` read-only. `os.replace` swaps the directory entry atomically: a reader
that already holds the old file keeps reading its snapshot, a new connection sees the complete new
build, and nobody ever sees a half-built file. A failed run never reaches `publish`, so the
published file stays byte-identical. "A new connection" must be one that opens the file now at the
path: `open_published`, which every reader in this project uses.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from ingest.durable import fsync_path
from loyalty.errors import LoyaltyError


def open_published(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the build published at `warehouse` now, its catalog in use.

    Not `duckdb.connect(path, read_only=True)`: DuckDB keeps one database instance per path and process, so
    while any connection to an earlier build is still open in the process, connect hands back that earlier
    build. Attaching into a fresh in-memory database always opens the file that is at the path now."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("attach ? as warehouse (read_only)", [str(warehouse)])
        con.execute("use warehouse")
    except BaseException:
        con.close()
        raise
    return con


def next_path_for(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".next")


def wal_path_for(database: Path) -> Path:
    return database.with_name(database.name + ".wal")


def prepare_next(warehouse: Path) -> Path:
    """A fresh `<warehouse>.next`: a copy of the published warehouse, or nothing when there is none yet.

    A leftover `.next` (a crashed or failed earlier run) is discarded first.
    """
    next_path = next_path_for(warehouse)
    discard(next_path)
    if wal_path_for(warehouse).exists():
        # Only an in-place writer leaves a WAL; copying the file without it would lose those changes,
        # and publishing over it would let DuckDB replay a stale WAL onto the new file.
        raise LoyaltyError(
            f"{wal_path_for(warehouse)} exists: something wrote to the published warehouse in place "
            "(`loyalty ingest`/`build` on it, or a crash of one). Stop that writer, open the file once "
            "read-write to checkpoint it, then run again"
        )
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    if warehouse.exists():
        shutil.copyfile(warehouse, next_path)
    return next_path


def discard(database: Path) -> None:
    for path in (database, wal_path_for(database)):
        path.unlink(missing_ok=True)


def publish(next_path: Path, warehouse: Path) -> None:
    """Make the checkpointed, closed `next_path` the published warehouse, durably."""
    if wal_path_for(next_path).exists():
        raise LoyaltyError(f"{next_path} still has a WAL: it was not checkpointed and closed; not publishing it")
    fsync_path(next_path)
    os.replace(next_path, warehouse)
    fsync_path(warehouse.parent)
