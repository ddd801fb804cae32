"""Load NDJSON / one-body JSON files into a raw table with DuckDB doing the parsing.

Two ways in, one SQL transform:
- fast path, for a large plain NDJSON file: DuckDB reads the file itself (read_json_objects,
  `with ordinality` = line number), in parallel. It then checks itself: the rows it inserted must
  equal the file's line count (counted while hashing). A bad or blank line → that file's rows are
  deleted and it goes through the precise path in the same transaction; a read error that fails the
  statement → the transaction is rolled back and the file goes through the precise path.
- precise path: lines.py splits the bytes (many small files per statement), DuckDB parses.
Malformed lines are only looked for when the insert came up short, so clean data pays one parse.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from ingest.context import SNIPPET_CHARS, BatchContext, Rejects, sql_str
from ingest.landing import LandingFile
from ingest.lines import CHUNK_BYTES, LinePart, iter_parts, parts_to_arrow

FAST_PATH_MIN_BYTES = 1 << 20  # below this, per-file statements cost more than batching in Python


@dataclass(frozen=True)
class JsonTarget:
    """How a JSON record becomes a row: paths extracted once into v[1..n], columns over v."""

    source: str
    table: str
    paths: tuple[str, ...]
    columns: dict[str, str]  # target column → SQL expression over v (list of extracted text) and j (the JSON)
    checks: tuple[tuple[str, str], ...]  # (SQL condition that makes a record bad, reason); first match wins

    def judged_sql(self, lines: str, validated: bool = False) -> str:
        """`validated`: the lines come from DuckDB's JSON reader, already parsed once."""
        paths = "[" + ", ".join(sql_str(p) for p in self.paths) + "]"
        whens = "\n".join(f"when {cond} then {reason}" for cond, reason in self.checks)
        j = "line" if validated else "try_cast(line as json)"
        return f"""
        with parsed as (
            select _file, _line, line, {j} as j from {lines} where line is not null
        ), extracted as (
            select *, json_extract_string(j, {paths}) as v from parsed
        ), judged as (
            select *, case
                when j is null then 'malformed JSON'
                when not (starts_with(line, '{{') or starts_with(ltrim(line), '{{')) then 'not a JSON object'
                {whens}
            end as _reason
            from extracted
        )"""

    def insert_sql(self, lines: str, ctx: BatchContext, extra_where: str = "", validated: bool = False) -> str:
        cols = ", ".join(self.columns)
        exprs = ", ".join(self.columns.values())
        return f"""{self.judged_sql(lines, validated)}
        insert into {self.table} ({cols}, _file, _line, _batch_id, _ingested_at)
        select {exprs}, _file, _line, {sql_str(ctx.batch_id)}, {ctx.ingested_at_sql}
        from judged where _reason is null {extra_where}"""

    def rejects_sql(self, lines: str, ctx: BatchContext) -> str:
        return f"""{self.judged_sql(lines)}
        insert into raw.rejected_records
        select {sql_str(self.source)}, _file, _line, _reason, left(line, {SNIPPET_CHARS}),
               {sql_str(ctx.batch_id)}, {ctx.ingested_at_sql}
        from judged where _reason is not null"""


def fast_path_eligible(f: LandingFile, gzip: bool) -> bool:
    return f.kind == "ndjson" and not gzip and f.size >= FAST_PATH_MIN_BYTES


def load_fast(
    con: duckdb.DuckDBPyConnection, target: JsonTarget, f: LandingFile, lines_on_disk: int, ctx: BatchContext
) -> tuple[int, int] | None:
    """Insert a large NDJSON file straight from DuckDB's JSON reader. Returns (rows, rejected), or None
    when a statement failed (the caller must then roll back the transaction and load the file precisely)."""
    # ignore_errors: a malformed line becomes a NULL row instead of failing the statement, so a doubtful
    # file costs a delete of its own rows, not a rollback of every other file of the transaction.
    lines = f"""(
        select {sql_str(f.rel)} as _file, ordinality as _line, json as line
        from read_json_objects({sql_str(str(f.path))}, format='newline_delimited', compression='none',
                               maximum_object_size={ctx.max_record_bytes + 2}, ignore_errors=true) with ordinality
    )"""
    guard = f"and strlen(line) <= {ctx.max_record_bytes}"
    try:
        inserted = con.execute(target.insert_sql(lines, ctx, guard, validated=True)).fetchone()[0]
    except (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException):
        raise  # our SQL is wrong: never hide that behind the slow path
    except duckdb.Error:
        return None  # invalid UTF-8, an object spanning lines, a line too long
    # The reader skips blank lines and a bad line is NULL (not inserted), so ordinality is the line
    # number and the file is clean only when every line on disk became a row.
    if inserted == lines_on_disk:
        return inserted, 0
    con.execute(f"delete from {target.table} where _file = ?", [f.rel])
    return load_precise(con, target, [f], ctx)[f.rel]


def load_precise(con: duckdb.DuckDBPyConnection, target: JsonTarget, files: list[LandingFile], ctx: BatchContext) -> dict[str, tuple[int, int]]:
    """Load files through the exact line splitter, many per statement. Returns file → (rows, rejected)."""
    rejects = Rejects(target.source)
    valid_rows: dict[str, int] = {f.rel: 0 for f in files}
    sql_checked = False
    pending: list[LinePart] = []
    pending_bytes = 0

    def flush() -> None:
        nonlocal pending, pending_bytes, sql_checked
        if not pending:
            return
        table = parts_to_arrow(pending, rejects)
        expected = table.num_rows - table.column("line").null_count
        con.register("_lines", table)
        try:
            inserted = con.execute(target.insert_sql("_lines", ctx)).fetchone()[0]
            if inserted < expected:
                con.execute(target.rejects_sql("_lines", ctx))
                sql_checked = True
        finally:
            con.unregister("_lines")
        # Lines quarantined while building the table are NULL: count what went to SQL per file.
        files = table.column("_file").combine_chunks()
        valid = files.indices.to_numpy()[table.column("line").combine_chunks().is_valid().to_numpy(zero_copy_only=False)]
        for idx, n in enumerate(np.bincount(valid, minlength=len(files.dictionary))):
            valid_rows[files.dictionary[idx].as_py()] += int(n)
        pending, pending_bytes = [], 0

    for f in files:
        for part in iter_parts(f, rejects, ctx.max_record_bytes):
            pending.append(part)
            pending_bytes += len(part.data)
            if pending_bytes >= CHUNK_BYTES:
                flush()
    flush()
    # Lines quarantined while splitting were never valid rows; the rest were either inserted or rejected by SQL.
    py_rejected = rejects.count_by_file()
    rejects.flush(con, ctx)
    sql_rejected: dict[str, int] = {}
    if sql_checked:
        sql_rejected = dict(
            con.execute(
                """select file_path, count(*) from raw.rejected_records
                   where _batch_id = ? and source = ? and file_path in (select unnest(?::varchar[]))
                   group by file_path""",
                [ctx.batch_id, target.source, list(valid_rows)],
            ).fetchall()
        )
        for file, n in py_rejected.items():
            sql_rejected[file] = sql_rejected.get(file, 0) - n
    out = {}
    for file, valid in valid_rows.items():
        bad_sql = sql_rejected.get(file, 0)
        out[file] = (valid - bad_sql, bad_sql + py_rejected.get(file, 0))
    return out
