"""The manifest raw.ingest_files: which file content is already in the raw layer.

A file is identified by its path relative to the landing folder. Same path, size and content hash
→ skipped; same path with other content → its old rows are deleted and it is loaded again, in the
same transaction that records the new manifest row (so a crash leaves either the old or the new
version, never both and never neither).
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

import duckdb

from ingest.context import sql_str
from ingest.landing import LandingFile, is_gzip
from ingest.lines import Gunzip

_READ_CHUNK = 8 << 20


@dataclass(frozen=True)
class FileDigest:
    content_hash: str
    lines: int | None  # physical lines of the (gunzipped) NDJSON text; None when unknown or undecodable


def digest(f: LandingFile) -> FileDigest:
    """sha256 of the bytes on disk, plus the line count of an NDJSON file (gunzipped when it is gzip)
    that lets DuckDB's reader verify itself. zlib and sha256 release the GIL: files hash in parallel."""
    h = hashlib.sha256()
    counter = _LineCounter() if f.kind == "ndjson" else None
    gunzip = Gunzip() if counter and is_gzip(f.path) else None
    with open(f.path, "rb") as fh:
        while chunk := fh.read(_READ_CHUNK):
            h.update(chunk)
            if counter is None:
                continue
            if gunzip is None:
                counter.feed(chunk)
                continue
            decoded: list[bytes] = []
            try:
                gunzip.feed(chunk, decoded)
            except zlib.error:
                counter = None  # corrupt: the precise path finds out where
                continue
            for piece in decoded:
                counter.feed(piece)
    if gunzip is not None and gunzip.truncated:
        counter = None
    return FileDigest(h.hexdigest(), counter.lines() if counter else None)


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
