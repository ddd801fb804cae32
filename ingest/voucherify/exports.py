"""Voucherify Exports API CSVs → raw.voucherify_exports (docs/formats.md §2), any exported_object.

The exported_object is the folder name (voucherify/exports/<exported_object>/…). Headers are
normalised (trimmed, lower case, runs of spaces/hyphens → `_`; dots kept), so `Customer Source Id`
and `customer_source_id` are one key and `metadata.location_id` stays recognisable. Each row is
stored as a JSON object {normalised header: text or null}; `details` stays JSON text.
Rows without an id, or whose numeric / timestamp cells do not parse, are quarantined.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from ingest.context import BatchContext, Rejects, sql_str
from ingest.csvrows import iter_batches, normalise_header
from ingest.landing import SOURCES, VOUCHERIFY_EXPORTS, LandingFile

TABLE = SOURCES[VOUCHERIFY_EXPORTS].raw_table

# Cells that must parse when present (Voucherify writes cents and counts as integers, times as ISO-8601).
NUMERIC_COLUMNS = frozenset(
    {
        "amount",
        "order_amount",
        "gift_amount",
        "loyalty_points",
        "balance",
        "discount_amount",
        "items_discount_amount",
        "total_discount_amount",
        "total_amount",
        "orders_total_amount",
        "orders_total_count",
        "redemptions_total_succeeded",
        "redemptions_total_failed",
        "redemptions_total_rolled_back",
        "points",
    }
)
TIMESTAMP_COLUMNS = frozenset({"date", "created_at", "updated_at", "expires_at", "published_at"})


def unique_names(header: list[str]) -> list[str]:
    names: list[str] = []
    for h in header:
        name = normalise_header(h) or "column"
        candidate, n = name, 1
        while candidate in names:
            n += 1
            candidate = f"{name}_{n}"
        names.append(candidate)
    return names


def _row_checker():
    cache: dict[int, tuple[int | None, list[tuple[int, str, str]]]] = {}

    def check(header: list[str], row: list[str]) -> str | None:
        key = id(header)
        if key not in cache:
            names = unique_names(header)
            typed = [(i, n, "number") for i, n in enumerate(names) if n in NUMERIC_COLUMNS]
            typed += [(i, n, "timestamp") for i, n in enumerate(names) if n in TIMESTAMP_COLUMNS]
            cache[key] = (names.index("id") if "id" in names else None, typed)
        id_idx, typed = cache[key]
        if id_idx is None:
            return "missing id: no id column"
        if not row[id_idx].strip():
            return "missing id"
        for i, name, kind in typed:
            value = row[i].strip()
            if value and not _parses(value, kind):
                return f"wrong type: {name} is not a {kind}: {value[:60]}"
        return None

    return check


def _parses(value: str, kind: str) -> bool:
    try:
        if kind == "number":
            float(value)
        else:
            datetime.fromisoformat(value)
        return True
    except ValueError:
        return False


def load(con: duckdb.DuckDBPyConnection, files: list[LandingFile], ctx: BatchContext) -> dict[str, tuple[int, int]]:
    out = {}
    for f in files:
        rejects = Rejects(VOUCHERIFY_EXPORTS)
        rows = 0
        for batch in iter_batches(f, rejects, ctx.max_record_bytes, _row_checker()):
            names = unique_names(batch.header)
            record = "json_object(" + ", ".join(f"{sql_str(n)}, c{i}" for i, n in enumerate(names)) + ")"
            con.register("_csv_rows", batch.to_arrow(names))
            try:
                rows += con.execute(
                    f"""insert into {TABLE}
                        select {sql_str(f.group)}, c{names.index("id")}, {record}, {sql_str(f.rel)}, _line,
                               {sql_str(ctx.batch_id)}, {ctx.ingested_at_sql}
                        from _csv_rows"""
                ).fetchone()[0]
            finally:
                con.unregister("_csv_rows")
        rejected = len(rejects.rows)
        rejects.flush(con, ctx)
        out[f.rel] = (rows, rejected)
    return out
