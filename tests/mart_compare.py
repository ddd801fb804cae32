"""Helpers to build a corpus into a warehouse and compare marts with rows computed elsewhere (the generator's
ground truth, hand-worked figures), exactly."""

from __future__ import annotations

import csv
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from ingest import load_landing
from loyalty.build import build


def build_corpus(corpus: Path, root: Path) -> Path:
    """A copy of the landing folder `corpus` under `root`, ingested and built; the warehouse path."""
    shutil.copytree(corpus, root / "landing")
    warehouse = root / "warehouse.duckdb"
    load_landing(root / "landing", warehouse, progress=False)
    result = build(warehouse)
    assert not [node.name for node in result.failed]
    return warehouse


def canonical(value) -> str:
    """One text form per value, as the ground-truth CSVs write them: '' for null, ISO-8601 UTC with
    milliseconds and Z for times, plain decimals without trailing zeros, true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, (int, float, Decimal)):
        return _number(Decimal(str(value)))
    text = str(value)
    try:
        return _number(Decimal(text)) if text.strip() and text.lstrip("-+").replace(".", "", 1).isdigit() else text
    except ArithmeticError:
        return text


def _number(d: Decimal) -> str:
    d = d.normalize()
    return format(d, "f") if d != 0 else "0"


def truth_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        rows = [{k: canonical(v) for k, v in row.items()} for row in reader]
        return list(reader.fieldnames or []), rows


def mart_rows(con: duckdb.DuckDBPyConnection, table: str, columns: list[str]) -> list[dict[str, str]]:
    cursor = con.execute(f"select {', '.join(columns)} from {table}")
    return [{c: canonical(v) for c, v in zip(columns, row)} for row in cursor.fetchall()]


def differences(expected: list[dict], actual: list[dict], key: list[str], limit: int = 10) -> list[str]:
    """Human-readable differences between two row sets keyed by `key` (empty when they are equal)."""
    exp = {tuple(r[k] for k in key): r for r in expected}
    act = {tuple(r[k] for k in key): r for r in actual}
    problems = []
    if len(exp) != len(expected):
        problems.append(f"expected rows repeat a key {key}")
    if len(act) != len(actual):
        problems.append(f"mart rows repeat a key {key}")
    for k in sorted(set(exp) - set(act))[:limit]:
        problems.append(f"missing row {k}: {exp[k]}")
    for k in sorted(set(act) - set(exp))[:limit]:
        problems.append(f"unexpected row {k}: {act[k]}")
    for k in sorted(set(exp) & set(act)):
        for col, want in exp[k].items():
            if act[k].get(col) != want:
                problems.append(f"{k} {col}: expected {want!r}, mart has {act[k].get(col)!r}")
                if len(problems) > limit * 3:
                    return problems
    return problems
