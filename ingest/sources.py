"""One loader per source: the raw table it owns and how a group of its files is loaded.

`load(con, group, ctx, declined)` runs inside the caller's transaction and returns
{file: (rows_loaded, rows_rejected)}. When the fast path declines a file it raises FastPathDeclined:
the caller rolls back, adds the file to `declined` and loads the group again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest import jsonlines
from ingest.landing import SEGMENT_ARCHIVE, SEGMENT_WAREHOUSE, VOUCHERIFY_API, VOUCHERIFY_EXPORTS, VOUCHERIFY_WEBHOOKS
from ingest.segment import archive, warehouse
from ingest.voucherify import api_objects, exports, webhooks


class FastPathDeclined(Exception):
    def __init__(self, rels: set[str]):
        super().__init__(", ".join(sorted(rels)))
        self.rels = rels


@dataclass(frozen=True)
class Loader:
    table: str
    load_files: Callable | None = None  # (con, files, ctx) -> {file: (rows, rejected)}
    json_target: jsonlines.JsonTarget | None = None

    def fast_eligible(self, todo) -> bool:
        return self.json_target is not None and jsonlines.fast_path_eligible(todo.file, todo.gzip)

    def load(self, con, group, ctx, declined: set[str]):
        if self.json_target is None:
            return self.load_files(con, [t.file for t in group], ctx)
        out = {}
        precise = []
        now_declined: set[str] = set()
        for todo in group:
            if self.fast_eligible(todo) and todo.file.rel not in declined:
                counts = jsonlines.load_fast(con, self.json_target, todo.file, todo.lines, ctx)
                if counts is None:
                    now_declined.add(todo.file.rel)
                    if not con_usable(con):
                        break  # a failed statement aborted the transaction: retry now
                out[todo.file.rel] = counts
            else:
                precise.append(todo.file)
        if now_declined:
            raise FastPathDeclined(now_declined)  # all found in one pass when the transaction survived
        if precise:
            out.update(jsonlines.load_precise(con, self.json_target, precise, ctx))
        return out


def con_usable(con) -> bool:
    try:
        con.execute("select 1").fetchone()
        return True
    except Exception:  # noqa: BLE001 - DuckDB refuses every statement in an aborted transaction
        return False


LOADERS = {
    VOUCHERIFY_WEBHOOKS: Loader("raw.voucherify_webhooks", json_target=webhooks.TARGET),
    VOUCHERIFY_API: Loader("raw.voucherify_api_objects", json_target=api_objects.TARGET),
    VOUCHERIFY_EXPORTS: Loader(exports.TABLE, exports.load),
    SEGMENT_WAREHOUSE: Loader(warehouse.TABLE, warehouse.load),
    SEGMENT_ARCHIVE: Loader(archive.TABLE, archive.load),
}
