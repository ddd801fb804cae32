"""Voucherify Exports API CSVs → raw.voucherify_exports (docs/formats.md §2), any exported_object.

The exported_object is the folder name (voucherify/exports/<exported_object>/…). Headers are
normalised (trimmed, lower case, runs of spaces/hyphens → `_`; dots kept), so `Customer Source Id`
and `customer_source_id` are one key and `metadata.location_id` stays recognisable. Each row is
stored as a JSON object {normalised header: text or null}; `details` stays JSON text.

Each export is keyed by what that export really carries (EXPORT_KEYS): the vendor's publication export
has no id column at all, and the default field lists of the voucher and customer exports leave the id
out. Rows whose key is empty, or whose numeric / timestamp cells do not parse, are quarantined.
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

# The key of a row per exported object: a list of parts, each part the first non-empty of its alternative
# columns. From the Exports API reference: a publication row is the voucher (`voucher_code`, or `code` in
# the default field list) handed to a customer at a date; vouchers are known by `code` and customers by
# `source_id` when their id is not exported. Any other object (and future ones) is keyed by `id`.
EXPORT_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "publication": (("voucher_code", "code"), ("customer_id", "customer_source_id"), ("date",)),
    "voucher": (("id", "code"),),
    "customer": (("id", "source_id"),),
    "order": (("id", "source_id"),),
}
DEFAULT_KEY: tuple[tuple[str, ...], ...] = (("id",),)


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


def key_columns(exported_object: str, names: list[str]) -> list[list[int]] | str:
    """Column positions of each key part (alternatives in preference order), or why the header has no key."""
    parts = []
    for alternatives in EXPORT_KEYS.get(exported_object, DEFAULT_KEY):
        present = [names.index(a) for a in alternatives if a in names]
        if not present:
            return f"missing key: no {' or '.join(alternatives)} column"
        parts.append(present)
    return parts


def record_key(parts: list[list[int]], row: list[str]) -> str | None:
    """The row's key: its parts joined by `|`; None when a part is empty in every alternative."""
    values = []
    for alternatives in parts:
        value = next((row[i].strip() for i in alternatives if row[i].strip()), None)
        if value is None:
            return None
        values.append(value)
    return "|".join(values)


def _row_checker(exported_object: str):
    cache: dict[int, tuple[list[list[int]] | str, list[tuple[int, str, str]]]] = {}

    def check(header: list[str], row: list[str]) -> str | None:
        key = id(header)
        if key not in cache:
            names = unique_names(header)
            typed = [(i, n, "number") for i, n in enumerate(names) if n in NUMERIC_COLUMNS]
            typed += [(i, n, "timestamp") for i, n in enumerate(names) if n in TIMESTAMP_COLUMNS]
            cache[key] = (key_columns(exported_object, names), typed)
        parts, typed = cache[key]
        if isinstance(parts, str):
            return parts
        if record_key(parts, row) is None:
            return "missing key: " + ", ".join("/".join(a) for a in EXPORT_KEYS.get(exported_object, DEFAULT_KEY))
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
        for batch in iter_batches(f, rejects, ctx.max_record_bytes, _row_checker(f.group)):
            names = unique_names(batch.header)
            record = "json_object(" + ", ".join(f"{sql_str(n)}, c{i}" for i, n in enumerate(names)) + ")"
            parts = key_columns(f.group, names)
            if isinstance(parts, str):  # no key column: every row was quarantined by the check
                continue
            # the same key record_key() checked: first non-empty alternative per part, parts joined by |
            key_sql = " || '|' || ".join(
                "coalesce(" + ", ".join(f"nullif(trim(c{i}), '')" for i in alternatives) + ")" for alternatives in parts
            )
            con.register("_csv_rows", batch.to_arrow(names))
            try:
                rows += con.execute(
                    f"""insert into {TABLE}
                        select {sql_str(f.group)}, {key_sql}, {record}, {sql_str(f.rel)}, _line,
                               {sql_str(ctx.batch_id)}, {ctx.ingested_at_sql}
                        from _csv_rows"""
                ).fetchone()[0]
            finally:
                con.unregister("_csv_rows")
        rejected = len(rejects.rows)
        rejects.flush(con, ctx)
        out[f.rel] = (rows, rejected)
    return out
