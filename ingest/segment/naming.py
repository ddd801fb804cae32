"""Segment's warehouse naming (docs/formats.md §4), so archive messages look like warehouse rows."""

from __future__ import annotations

import json
import re

_WORD_BREAK = re.compile(r"([a-z0-9])([A-Z])")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")

# Segment call type → warehouse table (track calls go to the table named after their event).
TYPE_TABLES = {"identify": "identifies", "page": "pages", "screen": "screens", "group": "groups", "alias": "aliases"}
TABLE_TYPES = {**{t: k for k, t in TYPE_TABLES.items()}, "tracks": "track", "users": "user"}


def snake_case(name: str) -> str:
    """`Order Completed` → `order_completed`, `orderID` → `order_id`, `iOS App Opened` → `i_os_app_opened`."""
    words = _NON_ALNUM.split(_WORD_BREAK.sub(r"\1_\2", name))
    return "_".join(w.lower() for w in words if w)


def flatten(obj: dict, prefix: str = "") -> dict:
    """Nested objects → parent_child columns, arrays → one JSON text column; a top-level `id` → `_id`."""
    out: dict = {}
    for key, value in obj.items():
        name = snake_case(str(key))
        if not prefix and name == "id":
            name = "_id"
        full = f"{prefix}_{name}" if prefix else name
        if isinstance(value, dict):
            out.update(flatten(value, full))
        elif isinstance(value, list):
            out[full] = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        else:
            out[full] = value
    return out


def table_for(call_type: str | None, event: str | None) -> str:
    if call_type == "track":
        return snake_case(event) if event else "tracks"
    return TYPE_TABLES.get(call_type or "", f"{call_type}s" if call_type else "unknown")
