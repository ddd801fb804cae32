"""The DuckDB engine: its memory cap for builds, and its marts exported (every table of the warehouse's `marts`
schema as `<out>/<mart>.parquet`)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from loyalty.errors import LoyaltyError

# The variables profiles.yml reads DuckDB's memory_limit and temp_directory from (its defaults apply when unset).
BUILD_LIMIT_SETTINGS = {
    "duckdb_memory_limit": "LOYALTY_DUCKDB_MEMORY_LIMIT",
    "duckdb_temp_directory": "LOYALTY_DUCKDB_TEMP_DIRECTORY",
}


def apply_build_limits(settings) -> None:
    """Hand the configured memory cap and spill folder of DuckDB builds (flag, environment or loyalty.toml) to
    the dbt profile, which reads them from the environment of this process."""
    for key, variable in BUILD_LIMIT_SETTINGS.items():
        value = settings.path(key) if key.endswith("directory") else settings.get(key)
        if value is not None and str(value) != "":
            os.environ[variable] = str(value)


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
