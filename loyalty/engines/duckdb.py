"""The DuckDB engine's marts, exported: every table of the warehouse's `marts` schema as `<out>/<mart>.parquet`."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from loyalty.errors import LoyaltyError


def export_marts(warehouse: Path, out: Path) -> list[str]:
    """Write each mart of `warehouse` to `out/<mart>.parquet` (each file replaced whole); return the mart names."""
    if not warehouse.is_file():
        raise LoyaltyError(f"warehouse {warehouse} does not exist")
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        marts = [
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        if not marts:
            raise LoyaltyError(f"{warehouse} has no marts yet: run `loyalty build` (or `loyalty run`) first")
        for mart in marts:
            write_parquet(con, f"select * from marts.{mart}", out / f"{mart}.parquet")
    return marts


def write_parquet(con: duckdb.DuckDBPyConnection, query: str, target: Path) -> None:
    """One Parquet file from a query, renamed into place once complete (a reader never sees half a file)."""
    tmp = target.with_name(f".{target.name}.tmp")
    con.execute(f"copy ({query}) to '{_sql_path(tmp)}' (format parquet, compression zstd)")
    os.replace(tmp, target)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
