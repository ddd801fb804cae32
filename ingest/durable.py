"""Durability on disk: what a crash must not undo is fsynced, file contents and folder entries alike."""

import os
from pathlib import Path


def fsync_path(path: Path) -> None:
    """fsync a file's contents, or a folder's entries (so a created or renamed name survives a crash)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
