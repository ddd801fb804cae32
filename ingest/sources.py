"""One loader per source: the raw table it owns and how a group of its files is loaded.

`load(con, group, ctx, fast)` runs inside the caller's transaction and returns
{file: (rows_loaded, rows_rejected)}, or None when the fast path declines (the caller rolls back
and calls again with fast=False).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingest import jsonlines
from ingest.landing import SEGMENT_ARCHIVE, SEGMENT_WAREHOUSE, VOUCHERIFY_API, VOUCHERIFY_EXPORTS, VOUCHERIFY_WEBHOOKS
from ingest.segment import archive, warehouse
from ingest.voucherify import api_objects, exports, webhooks


@dataclass(frozen=True)
class Loader:
    table: str
    load_files: Callable  # (con, files, ctx) -> {file: (rows, rejected)}
    json_target: jsonlines.JsonTarget | None = None

    def fast_eligible(self, todo) -> bool:
        return self.json_target is not None and jsonlines.fast_path_eligible(todo.file, todo.gzip)

    def load(self, con, group, ctx, fast: bool):
        if fast:
            (todo,) = group
            rows = jsonlines.load_fast(con, self.json_target, todo.file, todo.expected_lines, ctx)
            return None if rows is None else {todo.file.rel: (rows, 0)}
        if self.json_target is not None:
            return jsonlines.load_precise(con, self.json_target, [t.file for t in group], ctx)
        return self.load_files(con, [t.file for t in group], ctx)


LOADERS = {
    VOUCHERIFY_WEBHOOKS: Loader("raw.voucherify_webhooks", None, webhooks.TARGET),
    VOUCHERIFY_API: Loader("raw.voucherify_api_objects", None, api_objects.TARGET),
    VOUCHERIFY_EXPORTS: Loader(exports.TABLE, exports.load),
    SEGMENT_WAREHOUSE: Loader(warehouse.TABLE, warehouse.load),
    SEGMENT_ARCHIVE: Loader(archive.TABLE, archive.load),
}
