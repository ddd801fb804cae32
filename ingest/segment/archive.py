"""Segment raw archive objects (S3 destination) → raw.segment_events (docs/formats.md §5).

Objects are gzip NDJSON when their first bytes are 1f 8b, whatever their name (some clients
decompress transparently). Each message gets the warehouse's shape: table_name from type/event,
`properties` (track/page/screen) or `traits` (identify/group) flattened with warehouse column names,
and received_at from the message, else the receive day in the path.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from ingest.context import BatchContext, Rejects, registered, sql_str
from ingest.landing import SEGMENT_ARCHIVE, SOURCES, LandingFile
from ingest.lines import iter_parts
from ingest.segment.naming import flatten, snake_case, table_for

TABLE = SOURCES[SEGMENT_ARCHIVE].raw_table
_TIME_FIELDS = ("timestamp", "receivedAt")
_TRAIT_TYPES = {"identify", "group"}


def _not_a_timestamp(value) -> bool:
    if value is None:
        return False
    if not isinstance(value, str):
        return True
    try:
        datetime.fromisoformat(value)
        return False
    except ValueError:
        return True


def _no_constants(name: str):
    raise ValueError(f"{name} is not JSON")


def _text(value) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def load(con: duckdb.DuckDBPyConnection, files: list[LandingFile], ctx: BatchContext) -> dict[str, tuple[int, int]]:
    out = {}
    for f in files:
        rejects = Rejects(SEGMENT_ARCHIVE)
        day = datetime.fromtimestamp(f.received_day_ms / 1000, UTC).isoformat()
        rows = 0
        for part in iter_parts(f, rejects, ctx.max_record_bytes):
            rows += _load_part(con, f, part, day, rejects, ctx)
        rejected = len(rejects.rows)
        rejects.flush(con, ctx)
        out[f.rel] = (rows, rejected)
    return out


def _load_part(con, f: LandingFile, part, day: str, rejects: Rejects, ctx: BatchContext) -> int:
    cols: dict[str, list] = {
        k: []
        for k in (
            "table_name",
            "message_id",
            "type",
            "event",
            "event_text",
            "user_id",
            "anonymous_id",
            "timestamp",
            "received_at",
            "properties",
            "payload",
            "_line",
        )
    }
    raw = part.data.tobytes()
    offsets = [0, *part.lengths.cumsum().tolist()]
    for i, line_no in enumerate(part.line_nos.tolist()):
        if part.valid is not None and not part.valid[i]:
            continue
        text_bytes = raw[offsets[i] : offsets[i + 1]]
        try:
            text = text_bytes.decode("utf-8")
            msg = json.loads(text, parse_constant=_no_constants)
        except UnicodeDecodeError:
            rejects.add(f.rel, line_no, "invalid UTF-8", text_bytes)
            continue
        except ValueError:
            rejects.add(f.rel, line_no, "malformed JSON", text_bytes)
            continue
        if not isinstance(msg, dict):
            rejects.add(f.rel, line_no, "not a JSON object", text_bytes)
            continue
        message_id = msg.get("messageId")
        if not message_id:
            rejects.add(f.rel, line_no, "missing id: messageId", text_bytes)
            continue
        bad_time = next((k for k in _TIME_FIELDS if _not_a_timestamp(msg.get(k))), None)
        if bad_time:
            rejects.add(f.rel, line_no, f"wrong type: {bad_time} is not a timestamp", text_bytes)
            continue
        call_type = msg.get("type")
        event = msg.get("event") if isinstance(msg.get("event"), str) else None
        nested = msg.get("traits") if call_type in _TRAIT_TYPES else msg.get("properties")
        cols["table_name"].append(table_for(call_type, event))
        cols["message_id"].append(_text(message_id))
        cols["type"].append(_text(call_type))
        cols["event"].append(snake_case(event) if event else None)
        cols["event_text"].append(event)
        cols["user_id"].append(_text(msg.get("userId")))
        cols["anonymous_id"].append(_text(msg.get("anonymousId")))
        cols["timestamp"].append(msg.get("timestamp"))
        cols["received_at"].append(msg.get("receivedAt") or day)
        cols["properties"].append(json.dumps(flatten(nested) if isinstance(nested, dict) else {}, ensure_ascii=False))
        cols["payload"].append(text)
        cols["_line"].append(line_no)
    if not cols["_line"]:
        return 0
    table = pa.table({k: pa.array(v, pa.int64() if k == "_line" else pa.string()) for k, v in cols.items()})
    with registered(con, "_archive_rows", table):
        return con.execute(
            f"""insert into {TABLE} (origin, source_schema, table_name, message_id, type, event, event_text, user_id,
                                     anonymous_id, "timestamp", received_at, properties, payload,
                                     _file, _line, _batch_id, _ingested_at)
                select 'archive', {sql_str(f.group)}, table_name, message_id, type, event, event_text, user_id,
                       anonymous_id, try_cast("timestamp" as timestamptz), try_cast(received_at as timestamptz),
                       properties::json, payload::json,
                       {sql_str(f.rel)}, _line, {sql_str(ctx.batch_id)}, {ctx.ingested_at_sql}
                from _archive_rows"""
        ).fetchone()[0]
