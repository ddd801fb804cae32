"""Read-only access to the published warehouse, with query results cached per published build.

`loyalty run` publishes a new build by `os.replace`-ing the whole file, so a build is identified by the
file's (inode, mtime). When that changes we open a fresh read-only connection (queries already running
keep their snapshot of the old file) and drop every cached result of the previous build.

Usable outside Streamlit too (tests, the benchmark): `query(sql, params)` and `published_version()`.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from loyalty.errors import LoyaltyError
from loyalty.publish import open_published
from loyalty.settings import load_settings

Version = tuple[int, int]
_PARAM_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


class WarehouseMissing(LoyaltyError):
    """No published warehouse at the configured path (run `loyalty run` first)."""


def warehouse_path() -> Path:
    """The warehouse file: LOYALTY_WAREHOUSE (set by `loyalty serve`), else loyalty.toml, else the default."""
    return load_settings(None).path("warehouse").resolve()


def published_version(path: Path | None = None) -> Version | None:
    """(inode, mtime_ns) of the published file; changes with every publish. None when nothing is published."""
    try:
        stat = os.stat(path or warehouse_path())
    except FileNotFoundError:
        return None
    return (stat.st_ino, stat.st_mtime_ns)


class _Reader:
    """One read-only connection per published build, shared by all sessions (each query gets its own cursor)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._version: Version | None = None
        self._con: duckdb.DuckDBPyConnection | None = None

    def connection(self, path: Path) -> duckdb.DuckDBPyConnection:
        with self._lock:
            # Stat before opening: if a publish lands in between we record the older version and reopen next time.
            version = published_version(path)
            if version is None:
                raise WarehouseMissing(f"no warehouse at {path}: run `loyalty run` to build and publish one")
            if self._con is None or version != self._version or path != self._path:
                # The previous connection is not closed: queries still running on it finish on their snapshot.
                self._con, self._version, self._path = open_published(path), version, path
                _cached_query.clear()
            return self._con


_reader = _Reader()


def _bind(sql: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Only the named parameters the statement uses (DuckDB rejects extra ones); missing ones are an error."""
    params = params or {}
    names = set(_PARAM_NAME.findall(sql))
    missing = names - params.keys()
    if missing:
        raise KeyError(f"query parameters not given: {', '.join(sorted(missing))}")
    return {name: params[name] for name in names}


def _execute(sql: str, params: dict[str, Any], path: Path) -> pd.DataFrame:
    cursor = _reader.connection(path).cursor()
    try:
        cursor.execute("use warehouse")
        cursor.execute("set TimeZone = 'UTC'")  # days are UTC dates in every mart
        return cursor.execute(sql, params).df()
    finally:
        cursor.close()


@st.cache_data(show_spinner=False, max_entries=1000, ttl=3600)
def _cached_query(sql: str, params: dict[str, Any], path: str, version: Version) -> pd.DataFrame:
    # `version` is only part of the cache key: a new publish means new keys.
    return _execute(sql, params, Path(path))


def query(sql: str, params: Mapping[str, Any] | None = None, *, path: Path | None = None) -> pd.DataFrame:
    """Run a parameterised read-only query (`$name` placeholders) on the published warehouse, cached per build."""
    path = Path(path).resolve() if path else warehouse_path()
    version = published_version(path)
    if version is None:
        raise WarehouseMissing(f"no warehouse at {path}: run `loyalty run` to build and publish one")
    return _cached_query(sql, _bind(sql, params), str(path), version)


def query_uncached(sql: str, params: Mapping[str, Any] | None = None, *, path: Path | None = None) -> pd.DataFrame:
    """Same as `query` without the cache: for timing queries and for readers that must see every publish."""
    path = Path(path).resolve() if path else warehouse_path()
    return _execute(sql, _bind(sql, params), path)


def has_table(schema: str, table: str, *, path: Path | None = None) -> bool:
    found = query(
        "select count(*) as n from information_schema.tables "
        "where table_catalog = 'warehouse' and table_schema = $schema and table_name = $table",
        {"schema": schema, "table": table},
        path=path,
    )
    return bool(found.iloc[0, 0])
