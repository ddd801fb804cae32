"""Voucherify webhook deliveries → raw.voucherify_webhooks (docs/formats.md §1).

Both envelopes in one pass: v2024 (`id` whs_…, `source`, `event{id, type, created_at}`) and the
legacy v2018 (`object: "event"`, `webhook_id`, `id` = event id). The event kind is `event.type`
(distribution webhooks send a free-text `type`), falling back to `type` when `event` is absent.
Unknown event types and fields are kept as they are. The receiver asks `DeliveryJudge` (this same
SQL) before it acknowledges a delivery, so it never answers 2xx to what ingest would quarantine.
"""

from __future__ import annotations

import threading

import duckdb

from ingest.jsonlines import JsonTarget
from ingest.landing import SOURCES, VOUCHERIFY_WEBHOOKS

# v[1..10]
_PATHS = (
    "$.event.id",  # 1
    "$.id",  # 2
    "$.source.id",  # 3
    "$.source.object",  # 4
    "$.event.type",  # 5
    "$.type",  # 6
    "$.event.created_at",  # 7
    "$.created_at",  # 8
    "$.object",  # 9
    "$.webhook_id",  # 10
)
_LEGACY = "(v[5] is null and (v[9] = 'event' or v[10] is not null))"
_CREATED = "coalesce(v[7], v[8])"

TARGET = JsonTarget(
    source=VOUCHERIFY_WEBHOOKS,
    table=SOURCES[VOUCHERIFY_WEBHOOKS].raw_table,
    paths=_PATHS,
    columns={
        "event_id": f"case when {_LEGACY} then v[2] else v[1] end",
        "delivery_id": f"case when {_LEGACY} then null else v[2] end",
        "webhook_source_id": "coalesce(v[3], v[10])",
        "source_object": "v[4]",
        "envelope": f"case when {_LEGACY} then 'v2018' else 'v2024' end",
        "event_type": "coalesce(v[5], v[6])",
        "type_as_sent": "v[6]",
        "created_at": f"try_cast({_CREATED} as timestamptz)",
        "payload": "j",
    },
    checks=(
        ("v[1] is null and v[2] is null", "'missing id: neither event.id nor id'"),
        ("v[5] is null and v[6] is null", "'missing event type: neither event.type nor type'"),
        (
            f"{_CREATED} is not null and try_cast({_CREATED} as timestamptz) is null",
            f"'wrong type: created_at is not a timestamp: ' || left({_CREATED}, 60)",
        ),
    ),
)


class DeliveryJudge:
    """Ingest's own verdict on one delivery line: the loader's SQL on an in-memory DuckDB, one cursor per thread."""

    def __init__(self) -> None:
        self._db = duckdb.connect(":memory:")
        self._local = threading.local()
        self._sql = TARGET.judged_sql("(select '' as _file, 1 as _line, $line as line)") + " select _reason from judged"

    def reason(self, line: str) -> str | None:
        """Why ingest would quarantine this line, or None when it loads."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._db.cursor()
        return cursor.execute(self._sql, {"line": line}).fetchone()[0]
