"""Read line-oriented files (NDJSON, gzip or not; one-body JSON) into Arrow tables of lines, exactly.

This is the precise path: every physical line keeps its 1-based number, blank lines are skipped,
and what cannot become a line (oversized, invalid UTF-8, the cut-off end of a truncated gzip) is
quarantined here. Splitting is vectorised (numpy over the raw bytes; the Arrow string array points
into one buffer), so even this path stays close to disk speed; parsing happens in DuckDB.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ingest.context import Rejects
from ingest.landing import LandingFile, is_gzip

READ_BYTES = 1 << 20
CHUNK_BYTES = 32 << 20  # decoded bytes per chunk of a large file
BOM = b"\xef\xbb\xbf"


@dataclass
class LinePart:
    """Lines of one file (or one chunk of it), newline bytes removed, as lengths into `data`."""

    file: str
    data: np.ndarray  # uint8
    lengths: np.ndarray  # int64, one per kept line
    line_nos: np.ndarray  # int64, 1-based physical line numbers
    valid: np.ndarray | None = None  # bool; False = quarantined already, loaded as NULL

    @property
    def rows(self) -> int:
        return len(self.lengths)


class Gunzip:
    """Gunzips a byte stream piece by piece, as `gzip -d` does: concatenated gzip members form one stream.
    The line splitter and the manifest's line count both read gzip through it, so they agree."""

    def __init__(self) -> None:
        self._decoder = zlib.decompressobj(wbits=31)
        self._fed = False  # has the current member's decoder seen any byte?

    def feed(self, raw: bytes, out: list[bytes]) -> None:
        """Append what `raw` decodes to to `out` (so what came before a corrupt member is kept); raises zlib.error."""
        while raw:
            out.append(self._decoder.decompress(raw))
            self._fed = True
            if self._decoder.eof:
                raw = self._decoder.unused_data
                self._decoder, self._fed = zlib.decompressobj(wbits=31), False
            else:
                raw = b""

    @property
    def truncated(self) -> bool:
        """The stream so far ends inside a member."""
        return self._fed and not self._decoder.eof

    def flush(self) -> bytes:
        return self._decoder.flush()


def _decoded_chunks(f: LandingFile) -> Iterator[tuple[bytes, str | None]]:
    """The file's bytes, gunzipped when the content is gzip, in pieces; the last piece may carry
    a reason why decoding stopped early (truncated or corrupt gzip)."""
    with open(f.path, "rb") as fh:
        if not is_gzip(f.path):
            while piece := fh.read(CHUNK_BYTES):
                yield piece, None
            return
        gunzip = Gunzip()
        pending: list[bytes] = []
        pending_size = 0
        while raw := fh.read(READ_BYTES):
            decoded_before = len(pending)
            try:
                gunzip.feed(raw, pending)
            except zlib.error as exc:
                yield b"".join(pending), f"corrupt gzip ({exc})"
                return
            pending_size += sum(len(piece) for piece in pending[decoded_before:])
            if pending_size >= CHUNK_BYTES:
                yield b"".join(pending), None
                pending, pending_size = [], 0
        truncated = gunzip.truncated
        if truncated:
            pending.append(gunzip.flush())
        yield b"".join(pending), ("truncated gzip: file ends mid-stream" if truncated else None)


def iter_parts(f: LandingFile, rejects: Rejects, max_record_bytes: int) -> Iterator[LinePart]:
    """LineParts of a NDJSON file (one line = one record) or a one-body JSON file (the file = one record)."""
    if f.kind == "json":
        yield from _one_body(f, rejects, max_record_bytes)
        return
    carry = b""
    next_line = 1
    first = True
    skipping_oversized = False  # inside a line already known to be too long: drop bytes until its newline
    for piece, stop_reason in _decoded_chunks(f):
        if first:
            piece = piece[len(BOM) :] if piece.startswith(BOM) else piece
            first = False
        if skipping_oversized:
            cut = piece.find(b"\n")
            if cut < 0:
                piece = b""
            else:
                piece = piece[cut + 1 :]
                skipping_oversized = False
                next_line += 1
        buf = carry + piece if carry else piece
        cut = buf.rfind(b"\n")
        if cut < 0:
            carry = buf
            if len(carry) > max_record_bytes and stop_reason is None:
                rejects.add(f.rel, next_line, f"oversized line: more than {max_record_bytes} bytes", carry)
                carry, skipping_oversized = b"", True
            if stop_reason is None:
                continue
            complete = b""
        else:
            complete, carry = buf[: cut + 1], buf[cut + 1 :]
        if complete:
            part = split_lines(f.rel, complete, next_line, rejects, max_record_bytes)
            next_line += complete.count(b"\n")
            if part.rows:
                yield part
        if stop_reason is not None:
            # What decoded before the damage is kept; the cut-off end is the one quarantined record.
            rejects.add(f.rel, next_line, stop_reason, carry)
            return
    if carry and not skipping_oversized:
        part = split_lines(f.rel, carry, next_line, rejects, max_record_bytes)
        if part.rows:
            yield part


def _one_body(f: LandingFile, rejects: Rejects, max_record_bytes: int) -> Iterator[LinePart]:
    pieces = []
    size = 0
    for piece, stop_reason in _decoded_chunks(f):
        pieces.append(piece)
        size += len(piece)
        if stop_reason is not None:
            rejects.add(f.rel, 1, stop_reason, b"".join(pieces))
            return
        if size > max_record_bytes:
            rejects.add(f.rel, 1, f"oversized body: more than {max_record_bytes} bytes", b"".join(pieces))
            return
    body = b"".join(pieces)
    body = (body[len(BOM) :] if body.startswith(BOM) else body).strip()
    if not body:
        rejects.add(f.rel, 1, "empty file", b"")
        return
    data = np.frombuffer(body, np.uint8)
    yield LinePart(f.rel, data, np.array([len(body)], np.int64), np.array([1], np.int64))


def split_lines(file: str, buf: bytes, first_line_no: int, rejects: Rejects, max_record_bytes: int) -> LinePart:
    """Split `buf` on \\n (dropping \\r\\n endings), skip blank lines, quarantine oversized ones."""
    a = np.frombuffer(buf, np.uint8)
    newline_at = np.flatnonzero(a == 10)
    ends = newline_at if (len(a) == 0 or a[-1] == 10) else np.append(newline_at, len(a))
    n = len(ends)
    starts = np.empty(n, np.int64)
    if n:
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    raw_len = ends - starts
    has_cr = (raw_len > 0) & (a[np.maximum(ends - 1, 0)] == 13) if n else np.zeros(0, bool)
    lengths = raw_len - has_cr
    keep = np.ones(len(a), bool)
    keep[newline_at] = False
    keep[(ends - 1)[has_cr]] = False
    data = a[keep] if (len(newline_at) or has_cr.any()) else a
    line_nos = np.arange(first_line_no, first_line_no + n, dtype=np.int64)

    nonblank = lengths > 0
    if not nonblank.all():
        lengths, line_nos, starts = lengths[nonblank], line_nos[nonblank], starts[nonblank]
    valid = None
    oversized = lengths > max_record_bytes
    if oversized.any():
        valid = ~oversized
        for i in np.flatnonzero(oversized):
            s = int(starts[i])
            rejects.add(
                file,
                int(line_nos[i]),
                f"oversized line: {int(lengths[i])} bytes > {max_record_bytes}",
                buf[s : s + 2000],
            )
    return LinePart(file, data, lengths, line_nos, valid)


def parts_to_arrow(parts: list[LinePart], rejects: Rejects) -> pa.Table:
    """One Arrow table (_file, _line, line) over the parts; quarantined lines are NULL."""
    files = [p.file for p in parts]
    data = np.concatenate([p.data for p in parts]) if len(parts) > 1 else parts[0].data
    lengths = np.concatenate([p.lengths for p in parts])
    n = len(lengths)
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    valid = None
    if any(p.valid is not None for p in parts):
        valid = np.concatenate([p.valid if p.valid is not None else np.ones(p.rows, bool) for p in parts])
    line = _string_array(n, offsets, data, valid)
    try:
        line.validate(full=True)
    except pa.ArrowInvalid:
        valid = _quarantine_invalid_utf8(parts, offsets, data, valid, rejects)
        line = _string_array(n, offsets, data, valid)
    index = {f: i for i, f in enumerate(dict.fromkeys(files))}  # a large file comes in several parts
    names = list(index)
    part_file = np.array([index[f] for f in files], np.int32)
    file_idx = np.repeat(part_file, [p.rows for p in parts])
    return pa.table(
        {
            "_file": pa.DictionaryArray.from_arrays(pa.array(file_idx), pa.array(names)),
            "_line": pa.array(np.concatenate([p.line_nos for p in parts])),
            "line": line,
        }
    )


def _string_array(n: int, offsets: np.ndarray, data: np.ndarray, valid: np.ndarray | None) -> pa.Array:
    if valid is None:
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    bitmap = np.packbits(valid, bitorder="little")
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(data), pa.py_buffer(bitmap), int(n - valid.sum())
    )


def _quarantine_invalid_utf8(parts, offsets, data, valid, rejects: Rejects) -> np.ndarray:
    """Slow, only for a chunk known to hold invalid UTF-8: find and quarantine the offending lines."""
    valid = np.ones(len(offsets) - 1, bool) if valid is None else valid.copy()
    files = np.repeat(np.arange(len(parts)), [p.rows for p in parts])
    line_nos = np.concatenate([p.line_nos for p in parts])
    raw = data.tobytes()
    for i in np.flatnonzero(valid):
        chunk = raw[offsets[i] : offsets[i + 1]]
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            valid[i] = False
            rejects.add(parts[files[i]].file, int(line_nos[i]), f"invalid UTF-8 at byte {exc.start}", chunk)
    return valid
