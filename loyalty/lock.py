"""One `loyalty run` per warehouse at a time: an exclusive flock on `<warehouse>.lock`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.locks import LockHeld, exclusive_lock
from loyalty.errors import RunLockedError


def lock_path_for(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def run_lock(warehouse: Path) -> Iterator[Path]:
    """Hold the warehouse's run lock, or raise RunLockedError at once (never wait)."""
    try:
        with exclusive_lock(lock_path_for(warehouse)) as path:
            yield path
    except LockHeld as held:
        raise RunLockedError(
            f"another `loyalty run` (pid {held.holder}) is running on {warehouse} (lock {held.path}); "
            "this run exits without doing anything"
        ) from None
