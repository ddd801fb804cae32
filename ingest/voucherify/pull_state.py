"""Crash-safe bookkeeping for `loyalty pull voucherify`: the state file, atomic writes, one pull at a time.

The state lives in <landing>/voucherify/_state/pull_state.json (outside every folder ingest reads) and is
rewritten atomically after every page, so an interrupted pull resumes exactly where it stopped and the next
pull asks only for what is new. Per list endpoint it records the cursor and the sequence number of the last
landed page file; per exported object the window already exported and any export still being prepared.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from ingest.durable import fsync_path
from ingest.errors import IngestError
from ingest.landing import PULL_STATE_DIR as STATE_DIR
from ingest.locks import LockHeld, exclusive_lock

STATE_FILE = STATE_DIR / "pull_state.json"
LOCK_FILE = STATE_DIR / "pull.lock"


@contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """Write through the yielded handle; readers see the old file or the whole new one, even after a crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")  # a dot name ingest's globs never match
    try:
        with open(tmp, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(path.parent)


def write_atomically(path: Path, data: bytes) -> None:
    with atomic_file(path) as handle:
        handle.write(data)


class PullState:
    """{"exports": {exported_object: {...}}, "lists": {endpoint_key: {...}}}, saved on every change."""

    def __init__(self, landing: Path):
        self.path = landing / STATE_FILE
        self.data: dict[str, Any] = {"exports": {}, "lists": {}}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise IngestError(
                    f"pull state {self.path} is unreadable ({exc}); fix it, or delete it to pull everything again"
                ) from exc
            if not isinstance(loaded, dict):
                raise IngestError(f"pull state {self.path} is not a JSON object; fix it or delete it")
            self.data.update(loaded)

    def get(self, section: str, key: str) -> dict[str, Any]:
        return dict(self.data[section].get(key) or {})

    def put(self, section: str, key: str, value: dict[str, Any]) -> None:
        self.data[section][key] = value
        write_atomically(self.path, json.dumps(self.data, indent=2, sort_keys=True).encode("utf-8"))


@contextmanager
def pull_lock(landing: Path) -> Iterator[Path]:
    """An exclusive lock on the landing folder's pull state: two pulls at once would interleave cursors."""
    try:
        with exclusive_lock(landing / LOCK_FILE) as path:
            yield path
    except LockHeld as held:
        raise IngestError(f"another `loyalty pull voucherify` is running on {landing} (pid {held.holder})") from None
