"""Objects pulled from Voucherify list endpoints → raw.voucherify_api_objects.

`loyalty pull voucherify` lands them as <landing>/voucherify/api/<endpoint>/**/*.ndjson, one API
object per line; the endpoint is that folder's name (taken from _file, so one statement can load
files of several endpoints).
"""

from __future__ import annotations

from ingest.jsonlines import JsonTarget
from ingest.landing import SOURCES, VOUCHERIFY_API

_PATHS = ("$.id", "$.object", "$.created_at", "$.date")
_CREATED = "coalesce(v[3], v[4])"

TARGET = JsonTarget(
    source=VOUCHERIFY_API,
    table=SOURCES[VOUCHERIFY_API].raw_table,
    paths=_PATHS,
    columns={
        "endpoint": "split_part(_file, '/', 3)",
        "object_id": "v[1]",
        "object_type": "v[2]",
        "created_at": f"try_cast({_CREATED} as timestamptz)",
        "payload": "j",
    },
    checks=(
        ("v[1] is null", "'missing id'"),
        (
            f"{_CREATED} is not null and try_cast({_CREATED} as timestamptz) is null",
            f"'wrong type: created_at is not a timestamp: ' || left({_CREATED}, 60)",
        ),
    ),
)
