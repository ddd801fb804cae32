"""One `loyalty run` per warehouse at a time: an exclusive flock on `<warehouse>.lock`.

The kernel releases a flock when its holder exits, however it exits (kill -9 included), so a
crashed run never leaves a stale lock behind. The file itself stays (deleting it would let two
runs lock two different inodes); it holds the holder's pid for the error message.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from loyalty.errors import RunLockedError


def lock_path_for(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def run_lock(warehouse: Path) -> Iterator[Path]:
    """Hold the warehouse's run lock, or raise RunLockedError at once (never wait)."""
    path = lock_path_for(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise RunLockedError(
                f"another `loyalty run` (pid {holder}) is running on {warehouse} (lock {path}); "
                "this run exits without doing anything"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
