"""One loader per source: the raw table it owns and how a group of its files is loaded.

`load(con, group, ctx, plan)` runs inside the caller's transaction and returns
{file: (rows_loaded, rows_rejected)}. When a fast-path statement fails and aborts the transaction it
raises FastPathDeclined with a narrower plan: the caller rolls back and loads the group again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ingest import jsonlines
from ingest.landing import (
    SEGMENT_ARCHIVE,
    SEGMENT_WAREHOUSE,
    SOURCES,
    VOUCHERIFY_API,
    VOUCHERIFY_EXPORTS,
    VOUCHERIFY_WEBHOOKS,
)
from ingest.segment import archive, warehouse
from ingest.voucherify import api_objects, exports, webhooks


@dataclass
class FastPlan:
    """How a group's large NDJSON files go through DuckDB's reader; narrowed each time a try fails."""

    declined: set[str] = field(default_factory=set)  # files that must take the precise path
    one_by_one: bool = False  # after a failed statement: one statement per file, to find the unreadable one


class FastPathDeclined(Exception):
    """The fast path failed: roll back and load the group again under the narrower `plan`."""

    def __init__(self, plan: FastPlan):
        super().__init__(", ".join(sorted(plan.declined)) or "a group statement failed")
        self.plan = plan


@dataclass(frozen=True)
class Loader:
    table: str
    load_files: Callable | None = None  # (con, files, ctx) -> {file: (rows, rejected)}
    json_target: jsonlines.JsonTarget | None = None

    def fast_eligible(self, todo) -> bool:
        return self.json_target is not None and jsonlines.fast_path_eligible(todo.file, todo.lines)

    def load(self, con, group, ctx, plan: FastPlan):
        if self.json_target is None:
            return self.load_files(con, [t.file for t in group], ctx)
        fast = [t for t in group if self.fast_eligible(t) and t.file.rel not in plan.declined]
        fast_rels = {t.file.rel for t in fast}
        precise = [t.file for t in group if t.file.rel not in fast_rels]
        out = {}
        statements = [([t], _compression(t)) for t in fast] if plan.one_by_one else _reader_statements(fast)
        for todos, compression in statements:
            try:
                out.update(
                    jsonlines.load_fast(con, self.json_target, [(t.file, t.lines) for t in todos], ctx, compression)
                )
            except jsonlines.FastPathFailed as exc:
                if exc.doubtful:
                    raise FastPathDeclined(FastPlan(plan.declined | exc.doubtful, plan.one_by_one)) from exc
                if len(todos) > 1:
                    raise FastPathDeclined(FastPlan(plan.declined, one_by_one=True)) from exc
                raise FastPathDeclined(FastPlan(plan.declined | {todos[0].file.rel}, plan.one_by_one)) from exc
        if precise:
            out.update(jsonlines.load_precise(con, self.json_target, precise, ctx))
        return out


def _reader_statements(fast) -> list[tuple[list, str]]:
    """All files in one reader statement (each further statement costs a recompression at checkpoint);
    only a file whose name belies its content (gzip without .gz, or the reverse) needs its own."""
    by_name, misnamed = [], []
    for t in fast:
        if t.gzip == t.file.path.name.endswith(".gz"):
            by_name.append(t)
        else:
            misnamed.append(([t], _compression(t)))
    return ([(by_name, "auto")] if by_name else []) + misnamed


def _compression(todo) -> str:
    return "gzip" if todo.gzip else "none"


LOADERS = {
    VOUCHERIFY_WEBHOOKS: Loader(SOURCES[VOUCHERIFY_WEBHOOKS].raw_table, json_target=webhooks.TARGET),
    VOUCHERIFY_API: Loader(SOURCES[VOUCHERIFY_API].raw_table, json_target=api_objects.TARGET),
    VOUCHERIFY_EXPORTS: Loader(SOURCES[VOUCHERIFY_EXPORTS].raw_table, exports.load),
    SEGMENT_WAREHOUSE: Loader(SOURCES[SEGMENT_WAREHOUSE].raw_table, warehouse.load),
    SEGMENT_ARCHIVE: Loader(SOURCES[SEGMENT_ARCHIVE].raw_table, archive.load),
}
