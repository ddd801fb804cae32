"""Load NDJSON / one-body JSON files into a raw table with DuckDB doing the parsing.

Two ways in, one SQL transform:
- fast path, for large plain NDJSON files: DuckDB reads a group's files itself in one statement
  (read_json_objects, `with ordinality` → line number), in parallel. It then checks itself: each file's
  rows must be numbered 1..n, n its line count (counted while hashing). A file short of rows → its
  missing lines are found with the precise splitter and quarantined; when a blank line shifted the
  numbering instead, the transaction is rolled back and redone with that file on the precise path;
  a read error that fails the statement → rolled back and redone one statement per file.
- precise path: lines.py splits the bytes (many small files per statement), DuckDB parses.
Malformed lines are only looked for when the insert came up short, so clean data pays one parse.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np

from ingest.context import SNIPPET_CHARS, BatchContext, Rejects, registered, sql_str
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


def fast_path_eligible(f: LandingFile, lines: int | None) -> bool:
    """Large NDJSON files (gzip too) whose line count is known: DuckDB's reader can check itself against it."""
    return f.kind == "ndjson" and lines is not None and f.size >= FAST_PATH_MIN_BYTES


class FastPathFailed(Exception):
    """The fast-path statement failed or left files in doubt. The transaction must be rolled back (deleting
    rows written in it would make DuckDB rewrite the whole transaction at commit, on one core) and
    `doubtful` loaded precisely; an empty `doubtful` means the statement itself failed."""

    def __init__(self, doubtful: set[str], reason: str):
        super().__init__(reason)
        self.doubtful = doubtful


def load_fast(
    con: duckdb.DuckDBPyConnection,
    target: JsonTarget,
    files: list[tuple[LandingFile, int]],
    ctx: BatchContext,
    compression: str = "auto",
) -> dict[str, tuple[int, int]]:
    """Insert large NDJSON files, given with their line counts, through one statement of DuckDB's JSON
    reader (`compression` 'auto' goes by the .gz extension). Returns file → (rows, rejected); raises
    FastPathFailed when it cannot."""
    # One statement for all files: DuckDB then writes full row groups straight to storage in parallel,
    # where each further statement leaves partial row groups that the checkpoint recompresses on one core.
    # The reader numbers rows across the files in list order (ordinality), so a file's line is its
    # ordinality minus the lines of the files before it; the check below proves that held.
    starts = np.cumsum([0] + [n for _, n in files[:-1]]).tolist()
    offsets = ", ".join(f"({sql_str(str(f.path))}, {sql_str(f.rel)}, {int(s)})" for (f, _), s in zip(files, starts))
    paths = "[" + ", ".join(sql_str(str(f.path)) for f, _ in files) + "]"
    # ignore_errors: a malformed line becomes a NULL row (not inserted) instead of failing the statement.
    lines = f"""(
        select f.rel as _file, r.ordinality - f.lines_before as _line, r.json as line
        from read_json_objects({paths}, format='newline_delimited', compression={sql_str(compression)}, filename=true,
                               maximum_object_size={ctx.max_record_bytes + 2}, ignore_errors=true) with ordinality as r
        join (values {offsets}) as f(path, rel, lines_before) on r.filename = f.path
    )"""
    guard = f"and strlen(line) <= {ctx.max_record_bytes}"
    try:
        con.execute(target.insert_sql(lines, ctx, guard, validated=True)).fetchone()
    except (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException):
        raise  # our SQL is wrong: never hide that behind the slow path
    except duckdb.Error as exc:  # invalid UTF-8, an object spanning lines, a line too long
        raise FastPathFailed(set(), str(exc).splitlines()[0]) from exc
    # The reader skips blank lines and a bad line is NULL: a file is clean only when every line on disk
    # became a row, numbered 1..n. A skipped blank line also shifts the numbers of the files after it,
    # which then fail the same check.
    landed = dict(
        con.execute(
            f"""select _file, (count(*), min(_line), max(_line)) from {target.table}
                where _batch_id = ? and _file in (select unnest(?::varchar[])) group by _file""",
            [ctx.batch_id, [f.rel for f, _ in files]],
        ).fetchall()
    )
    out = {f.rel: (n, 0) for f, n in files if landed.get(f.rel) == ((n, 1, n) if n else None)}
    doubtful = set()
    for f, _n in files:
        if f.rel not in out:
            rejected = _quarantine_missing_lines(con, target, f, ctx)
            if rejected is None:
                doubtful.add(f.rel)
            else:
                out[f.rel] = (landed[f.rel][0] if f.rel in landed else 0, rejected)
    if doubtful:
        raise FastPathFailed(doubtful, "line numbers shifted (blank lines)")
    return out


def _quarantine_missing_lines(
    con: duckdb.DuckDBPyConnection, target: JsonTarget, f: LandingFile, ctx: BatchContext
) -> int | None:
    """A fast-loaded file has fewer rows than lines: find the lines that did not land (the precise splitter
    numbers them) and quarantine them with their reasons. Returns how many were rejected, or None when the
    rows that did land cannot be trusted: the reader skipped a blank line, so later line numbers shifted,
    which shows as a landed number that is no line, or a missing line that is in fact good."""
    landed = con.execute(
        f"select _line from {target.table} where _batch_id = ? and _file = ?", [ctx.batch_id, f.rel]
    ).fetchnumpy()["_line"]
    landed = np.asarray(landed, np.int64)
    rejects = Rejects(target.source)
    missing: list[LinePart] = []
    line_nos = []
    for part in iter_parts(f, rejects, ctx.max_record_bytes):
        line_nos.append(part.line_nos)
        wanted = ~np.isin(part.line_nos, landed)
        if part.valid is not None:
            wanted &= part.valid  # quarantined by the splitter already
        if wanted.any():
            missing.append(_select_lines(part, wanted))
    physical = np.concatenate(line_nos) if line_nos else np.zeros(0, np.int64)
    if not np.isin(landed, physical).all():
        return None
    to_judge = sum(p.rows for p in missing)
    if to_judge:
        with registered(con, "_missing", parts_to_arrow(missing, rejects)):
            judged_bad = con.execute(target.rejects_sql("_missing", ctx)).fetchone()[0]
        if judged_bad != to_judge:
            return None
    if len(landed) + len(rejects.rows) + to_judge != len(physical):
        return None
    rejects.flush(con, ctx)
    return len(rejects.rows) + to_judge


def _select_lines(part: LinePart, wanted: np.ndarray) -> LinePart:
    ends = np.cumsum(part.lengths)
    starts = ends - part.lengths
    data = np.concatenate([part.data[s:e] for s, e in zip(starts[wanted], ends[wanted])])
    return LinePart(part.file, data, part.lengths[wanted], part.line_nos[wanted])


def load_precise(
    con: duckdb.DuckDBPyConnection, target: JsonTarget, files: list[LandingFile], ctx: BatchContext
) -> dict[str, tuple[int, int]]:
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
        with registered(con, "_lines", table):
            inserted = con.execute(target.insert_sql("_lines", ctx)).fetchone()[0]
            if inserted < expected:
                con.execute(target.rejects_sql("_lines", ctx))
                sql_checked = True
        # Lines quarantined while building the table are NULL: count what went to SQL per file.
        files = table.column("_file").combine_chunks()
        valid = files.indices.to_numpy()[
            table.column("line").combine_chunks().is_valid().to_numpy(zero_copy_only=False)
        ]
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
