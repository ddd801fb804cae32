"""Segment warehouse dumps (CSV or Parquet, any table, any source schema) → raw.segment_events.

Each file is read with its own columns, so schema drift between files (new, missing, retyped
columns) needs nothing special. Common columns become the extracted keys; every other column
except `context_*` goes into `properties` under its warehouse name; the whole row is `payload`.
A CSV header with an empty or repeated column name still loads every row (the column renamed) and
quarantines the header row (line 0) with what was renamed.
"""

from __future__ import annotations

import duckdb

from ingest.context import SNIPPET_CHARS, BatchContext, Rejects, registered, sql_str
from ingest.csvrows import iter_batches
from ingest.landing import SEGMENT_WAREHOUSE, SOURCES, LandingFile
from ingest.segment.naming import TABLE_TYPES

TABLE = SOURCES[SEGMENT_WAREHOUSE].raw_table
COMMON_COLUMNS = frozenset(
    {
        "id",
        "anonymous_id",
        "user_id",
        "received_at",
        "sent_at",
        "timestamp",
        "original_timestamp",
        "uuid_ts",
        "loaded_at",
        "event",
        "event_text",
    }
)


def column_names(header: list[str]) -> tuple[list[str], str | None]:
    """A name per column to load it under, and what had to be renamed (None when nothing). A column without a
    name becomes `column_<position>`; a name seen before (ignoring case, as SQL does) gets `_2`, `_3`, …, so
    every cell still loads and one bad header never costs the file."""
    names: list[str] = []
    taken: set[str] = set()
    renamed: list[str] = []
    for position, raw in enumerate(header, start=1):
        name = raw.strip().lstrip("\ufeff").strip()
        candidate, n = name or f"column_{position}", 1
        while candidate.lower() in taken:
            n += 1
            candidate = f"{name}_{n}"
        if not name:
            renamed.append(f"column {position} has no name (loaded as {candidate})")
        elif candidate != name:
            renamed.append(f"column {position} repeats {name!r} (loaded as {candidate})")
        names.append(candidate)
        taken.add(candidate.lower())
    return names, ("bad header: " + "; ".join(renamed)) if renamed else None


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _text(col: str | None) -> str:
    return f"nullif(trim({_q(col)}::varchar), '')" if col else "null"


def _statements(f: LandingFile, columns: list[str], relation: str, ctx: BatchContext) -> tuple[str, str]:
    present = {c.lower(): c for c in columns}

    def col(name: str) -> str | None:
        return present.get(name)

    call_type = TABLE_TYPES.get(f.table or "", "track")
    props = [c for c in columns if c.lower() not in COMMON_COLUMNS and not c.lower().startswith("context_")]
    properties = (
        "to_json(struct_pack(" + ", ".join(f"{_q(c)} := {_q(c)}" for c in props) + "))" if props else "'{}'::json"
    )
    payload = "to_json(struct_pack(" + ", ".join(f"{_q(c)} := {_q(c)}" for c in columns) + "))"
    event = (
        _text(col("event"))
        if col("event")
        else (sql_str(f.table) if call_type == "track" and f.table != "tracks" else "null")
    )
    user_id = _text(col("user_id"))
    if call_type == "user":
        user_id = f"coalesce({user_id}, {_text(col('id'))})"
    ts_checks = "\n".join(
        f"when {_q(col(c))} is not null and try_cast({_q(col(c))} as timestamptz) is null "
        f"then 'wrong type: {c} is not a timestamp: ' || left({_q(col(c))}::varchar, 60)"
        for c in ("timestamp", "received_at")
        if col(c)
    )
    judged = f"""
        with judged as (
            select *, {payload} as _payload, case
                when {_text(col("id"))} is null then 'missing id'
                {ts_checks}
            end as _reason
            from {relation}
        )"""
    ts = lambda c: f"try_cast({_q(col(c))} as timestamptz)" if col(c) else "null"  # noqa: E731
    insert = f"""{judged}
        insert into {TABLE} (origin, source_schema, table_name, message_id, type, event, event_text, user_id,
                             anonymous_id, "timestamp", received_at, properties, payload,
                             _file, _line, _batch_id, _ingested_at)
        select 'warehouse', {sql_str(f.group)}, {sql_str(f.table)}, {_text(col("id"))}, {sql_str(call_type)},
               {event}, {_text(col("event_text"))}, {user_id}, {_text(col("anonymous_id"))},
               {ts("timestamp")}, {ts("received_at")}, {properties}, _payload,
               {sql_str(f.rel)}, _line, {sql_str(ctx.batch_id)}, {ctx.ingested_at_sql}
        from judged where _reason is null"""
    rejects = f"""{judged}
        insert into raw.rejected_records
        select {sql_str(SEGMENT_WAREHOUSE)}, {sql_str(f.rel)}, _line, _reason, left(_payload::varchar, {SNIPPET_CHARS}),
               {sql_str(ctx.batch_id)}, {ctx.ingested_at_sql}
        from judged where _reason is not null"""
    return insert, rejects


def load(con: duckdb.DuckDBPyConnection, files: list[LandingFile], ctx: BatchContext) -> dict[str, tuple[int, int]]:
    out = {}
    for f in files:
        if f.kind == "parquet":
            out[f.rel] = _load_parquet(con, f, ctx)
        else:
            out[f.rel] = _load_csv(con, f, ctx)
    return out


def _load_parquet(con, f: LandingFile, ctx: BatchContext) -> tuple[int, int]:
    source = f"read_parquet({sql_str(str(f.path))}, file_row_number=true)"
    columns = [r[0] for r in con.execute(f"describe select * from {source}").fetchall() if r[0] != "file_row_number"]
    relation = f"(select * exclude (file_row_number), file_row_number + 1 as _line from {source})"
    insert, rejects = _statements(f, columns, relation, ctx)
    rows = con.execute(insert).fetchone()[0]
    rejected = con.execute(rejects).fetchone()[0]
    return rows, rejected


def _load_csv(con, f: LandingFile, ctx: BatchContext) -> tuple[int, int]:
    rejects = Rejects(SEGMENT_WAREHOUSE)
    rows = rejected = 0
    for number, batch in enumerate(iter_batches(f, rejects, ctx.max_record_bytes)):
        columns, problem = column_names(batch.header)
        if problem and number == 0:
            rejects.add(f.rel, 0, problem, ",".join(batch.header))
        relation = "(select " + ", ".join(f"c{i} as {_q(c)}" for i, c in enumerate(columns)) + ", _line from _csv_rows)"
        insert, reject_sql = _statements(f, columns, relation, ctx)
        with registered(con, "_csv_rows", batch.to_arrow(columns)):
            rows += con.execute(insert).fetchone()[0]
            rejected += con.execute(reject_sql).fetchone()[0]
    rejected += len(rejects.rows)
    rejects.flush(con, ctx)
    return rows, rejected
