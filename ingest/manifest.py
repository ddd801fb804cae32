"""The manifest raw.ingest_files: which file content is already in the raw layer.

A file is identified by its path relative to the landing folder. Same path, size and content hash
→ skipped; same path with other content → its old rows are deleted and it is loaded again, in the
same transaction that records the new manifest row (so a crash leaves either the old or the new
version, never both and never neither). The hash recorded is always that of the bytes loaded: a file
that changed between hashing and loading is loaded again from a copy hashed while it was made.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb

from ingest.context import sql_str
from ingest.landing import GZIP_MAGIC, LandingFile
from ingest.lines import Gunzip

_READ_CHUNK = 8 << 20
# A file modified this shortly before it was hashed may change again within the same tick of the filesystem's
# clock, leaving its size and times as they were: such a file's content is compared again after loading.
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class FileDigest:
    content_hash: str
    size: int  # bytes hashed
    gzip: bool  # by content: the first bytes are gzip's magic number
    lines: int | None  # physical lines of the (gunzipped) NDJSON text; None when unknown or undecodable
    identity: tuple[int, int, int, int, int]  # (device, inode, size, mtime, ctime) when hashing began
    hashed_at_ns: int


def digest(f: LandingFile) -> FileDigest:
    """sha256 of the bytes on disk, plus the line count of an NDJSON file (gunzipped when it is gzip)
    that lets DuckDB's reader verify itself. zlib and sha256 release the GIL: files hash in parallel."""
    with open(f.path, "rb") as fh:
        identity, hashed_at = _identity(os.fstat(fh.fileno())), time.time_ns()
        hashing = _Hashing(f, fh.read(2))
        while chunk := fh.read(_READ_CHUNK):
            hashing.feed(chunk)
    return hashing.result(identity, hashed_at)


def unchanged(f: LandingFile, d: FileDigest) -> bool:
    """Is `f` still exactly what `d` hashed? Checked after loading it: a file rewritten in between (even with
    its old content again, after a partial state the loader read) must not be recorded under `d`."""
    try:
        now = _identity(os.stat(f.path))
    except FileNotFoundError:
        return False
    if now != d.identity or d.size != d.identity[2]:
        return False
    if d.identity[3] > d.hashed_at_ns - RACY_NS:
        return digest(f).content_hash == d.content_hash
    return True


def snapshot(f: LandingFile, folder: Path) -> tuple[LandingFile, FileDigest]:
    """A private copy of `f` in `folder`, hashed while it is copied: loading the copy loads exactly the bytes
    whose hash is recorded, however the original changes meanwhile. Lineage keeps the original's path."""
    fd, name = tempfile.mkstemp(dir=folder, suffix=f"-{f.path.name}")  # the name keeps the file's extension
    copy = Path(name)
    with open(f.path, "rb") as source, open(fd, "wb") as target:
        head = source.read(2)
        target.write(head)
        hashing = _Hashing(f, head)
        while chunk := source.read(_READ_CHUNK):
            target.write(chunk)
            hashing.feed(chunk)
    copied = dataclasses.replace(f, path=copy, size=hashing.size)
    return copied, hashing.result(_identity(os.stat(copy)), time.time_ns())


def _identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _Hashing:
    """sha256 and, for NDJSON, the line count of the gunzipped text, fed chunk by chunk (`head`: the first bytes,
    which tell gzip by content)."""

    def __init__(self, f: LandingFile, head: bytes) -> None:
        self.sha = hashlib.sha256()
        self.size = 0
        self.counter = _LineCounter() if f.kind == "ndjson" else None
        self.gzip = head.startswith(GZIP_MAGIC)
        self.gunzip = Gunzip() if self.counter and self.gzip else None
        self.feed(head)

    def feed(self, chunk: bytes) -> None:
        self.sha.update(chunk)
        self.size += len(chunk)
        if self.counter is None:
            return
        if self.gunzip is None:
            self.counter.feed(chunk)
            return
        decoded: list[bytes] = []
        try:
            self.gunzip.feed(chunk, decoded)
        except zlib.error:
            self.counter = None  # corrupt: the precise path finds out where
            return
        for piece in decoded:
            self.counter.feed(piece)

    def result(self, identity: tuple[int, int, int, int, int], hashed_at_ns: int) -> FileDigest:
        counter = None if self.gunzip is not None and self.gunzip.truncated else self.counter
        lines = counter.lines() if counter else None
        return FileDigest(self.sha.hexdigest(), self.size, self.gzip, lines, identity, hashed_at_ns)


class _LineCounter:
    def __init__(self) -> None:
        self.newlines = 0
        self.last = b""

    def feed(self, data: bytes) -> None:
        if data:
            self.newlines += data.count(b"\n")
            self.last = data[-1:]

    def lines(self) -> int:
        return self.newlines + (1 if self.last not in (b"", b"\n") else 0)


def loaded_versions(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, str]]:
    """file_path → (size_bytes, content_hash) of every file in the manifest."""
    return {
        p: (s, h)
        for p, s, h in con.execute("select file_path, size_bytes, content_hash from raw.ingest_files").fetchall()
    }


@dataclass
class ManifestEntry:
    file: LandingFile
    content_hash: str
    rows_loaded: int = 0
    rows_rejected: int = 0


def record(con: duckdb.DuckDBPyConnection, entries: list[ManifestEntry], batch_id: str) -> None:
    """Write the manifest rows of files whose data rows were inserted in the current transaction."""
    # Literal rows: binding thousands of parameters costs more than the load of a small file.
    for i in range(0, len(entries), 1000):
        rows = ", ".join(
            f"({sql_str(e.file.rel)}, {sql_str(e.file.source)}, {int(e.file.size)}, {sql_str(e.content_hash)}, "
            f"{sql_str(batch_id)}, {int(e.rows_loaded)}, {int(e.rows_rejected)}, now())"
            for e in entries[i : i + 1000]
        )
        con.execute(f"insert into raw.ingest_files values {rows}")


def forget(con: duckdb.DuckDBPyConnection, files: list[LandingFile], target_table: str) -> None:
    """Delete everything an earlier version of these files put in the raw layer (current transaction)."""
    if not files:
        return
    paths = [f.rel for f in files]
    con.execute(f"delete from {target_table} where _file in (select unnest(?::varchar[]))", [paths])
    con.execute("delete from raw.rejected_records where file_path in (select unnest(?::varchar[]))", [paths])
    con.execute("delete from raw.ingest_files where file_path in (select unnest(?::varchar[]))", [paths])
