"""Read CSV files (Voucherify exports, Segment warehouse dumps) row by row, exactly.

Python's csv module handles quoted newlines and JSON text in cells; rows are numbered from 1
after the header (the header is row 0; blank lines are not rows). A row with the wrong number
of cells, an oversized row, a row with bytes that are not UTF-8 or a row the csv module cannot
parse is quarantined, the rest loads. Bytes that are not UTF-8 are never replaced and loaded: they
are decoded as lone surrogates (`surrogateescape`), which no valid text contains, and looked for.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa

from ingest.context import Rejects
from ingest.landing import LandingFile, is_gzip

BATCH_ROWS = 50_000
csv.field_size_limit(sys.maxsize)
_UNDECODED_BYTE = re.compile("[\udc80-\udcff]")


def normalise_header(name: str) -> str:
    """`Customer Source Id` → `customer_source_id`; `metadata.location_id` keeps its dot."""
    return re.sub(r"[\s\-]+", "_", name.strip().lstrip("\ufeff").strip()).lower()


@dataclass
class CsvBatch:
    header: list[str]  # as written in the file
    line_nos: list[int]
    rows: list[list[str]]

    def to_arrow(self, names: list[str]) -> pa.Table:
        """Columns c0..cN as text ('' → NULL: a CSV cannot tell them apart) plus _line."""
        cols = list(zip(*self.rows)) if self.rows else [() for _ in names]
        data = {f"c{i}": pa.array([v if v != "" else None for v in col], pa.string()) for i, col in enumerate(cols)}
        data["_line"] = pa.array(self.line_nos, pa.int64())
        return pa.table(data)


def iter_batches(f: LandingFile, rejects: Rejects, max_record_bytes: int, row_check=None) -> Iterator[CsvBatch]:
    """Batches of good rows. `row_check(header, row) -> reason | None` adds source-specific checks."""
    raw = gzip.open(f.path, "rb") if is_gzip(f.path) else open(f.path, "rb")  # noqa: SIM115 - closed by the with below
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="") as text:
        reader = csv.reader(text)
        try:
            header = next(reader, None)
        except (csv.Error, EOFError, OSError, zlib.error) as exc:
            rejects.add(f.rel, 0, f"unreadable header: {exc}", b"")
            return
        if not header:
            return
        if (column := _undecoded_column(header, "".join(header))) is not None:
            rejects.add(f.rel, 0, f"invalid UTF-8 in the header (column {column})", _as_csv(header))
            return
        width = len(header)
        batch = CsvBatch(header, [], [])
        row_no = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                row_no += 1
                rejects.add(f.rel, row_no, f"unparseable CSV row: {exc}", b"")
                continue
            except (EOFError, OSError, zlib.error) as exc:  # truncated or corrupt gzip: keep what came before
                rejects.add(f.rel, row_no + 1, f"truncated gzip: {exc}", b"")
                break
            if not row:
                continue
            row_no += 1
            reason = None
            joined = "".join(row)
            if len(row) != width:
                reason = f"wrong column count: expected {width}, got {len(row)}"
            elif len(joined) > max_record_bytes:
                reason = f"oversized row: more than {max_record_bytes} bytes"
            elif (column := _undecoded_column(row, joined)) is not None:
                reason = f"invalid UTF-8 in column {column} ({header[column - 1].strip()[:60]})"
            elif row_check is not None:
                reason = row_check(header, row)
            if reason:
                rejects.add(f.rel, row_no, reason, _as_csv(row))
                continue
            batch.line_nos.append(row_no)
            batch.rows.append(row)
            if len(batch.rows) >= BATCH_ROWS:
                yield batch
                batch = CsvBatch(header, [], [])
        if batch.rows:
            yield batch


def _undecoded_column(cells: list[str], joined: str) -> int | None:
    """The 1-based column of the first cell holding bytes that are not UTF-8, or None (pure ASCII is checked
    in O(1))."""
    if joined.isascii() or not _UNDECODED_BYTE.search(joined):
        return None
    return next(i for i, cell in enumerate(cells, start=1) if _UNDECODED_BYTE.search(cell))


def _as_csv(row: list[str]) -> str:
    """The row as CSV text for a snippet; bytes that are not UTF-8 shown as U+FFFD."""
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(row)
    return out.getvalue()[:2000].encode("utf-8", "surrogateescape").decode("utf-8", "replace")
