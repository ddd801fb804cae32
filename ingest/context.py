"""What every loader needs to know about the current ingest batch, and the quarantine it writes to."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

SNIPPET_CHARS = 500
DEFAULT_MAX_RECORD_BYTES = 4 << 20  # one line / CSV row / JSON body; larger ones are quarantined


@dataclass
class BatchContext:
    batch_id: str
    ingested_at: datetime
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES

    @property
    def ingested_at_sql(self) -> str:
        """A literal for SQL text: one value for the whole batch, no per-row now()."""
        return f"'{self.ingested_at.isoformat()}'::timestamptz"


@dataclass
class Rejects:
    """Records quarantined by Python code (SQL-side rejects are inserted by their own statements)."""

    source: str
    rows: list[tuple[str, int | None, str, str]] = field(default_factory=list)  # file, line, reason, snippet

    def add(self, file: str, line: int | None, reason: str, raw: bytes | str | None) -> None:
        if isinstance(raw, (bytes, bytearray, memoryview)):
            raw = bytes(raw[: SNIPPET_CHARS * 4]).decode("utf-8", "replace")
        self.rows.append((file, line, reason, (raw or "")[:SNIPPET_CHARS]))

    def count_by_file(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for file, *_ in self.rows:
            counts[file] = counts.get(file, 0) + 1
        return counts

    def flush(self, con: duckdb.DuckDBPyConnection, ctx: BatchContext) -> None:
        if not self.rows:
            return
        files, lines, reasons, snippets = zip(*self.rows)
        table = pa.table(
            {
                "file_path": list(files),
                "line": pa.array(lines, pa.int64()),
                "reason": list(reasons),
                "snippet": list(snippets),
            }
        )
        with registered(con, "_rejects", table):
            con.execute(
                f"""
                insert into raw.rejected_records
                select ?, file_path, line, reason, snippet, ?, {ctx.ingested_at_sql} from _rejects
                """,
                [self.source, ctx.batch_id],
            )
        self.rows.clear()


def sql_str(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
    """`table` visible to SQL as `name` for the block. When the block fails, the failure is what propagates:
    unregistering in the aborted transaction would fail too and hide the real reason."""
    con.register(name, table)
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):
            con.unregister(name)
        raise
    con.unregister(name)
