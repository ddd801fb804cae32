"""Find the files of a landing folder and say which source each belongs to (see docs/architecture.md).

Anything that does not fit the layout is reported as skipped, never rejected: strays such as
Segment's `segment-logs/dummy-object.txt` are expected in real buckets. Two folders are not looked at
at all: `ground_truth/` (the generator's answers) and `voucherify/_state/` (the API pull's state and lock).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ingest.errors import IngestError
from ingest.voucherify.pull_state import STATE_DIR

# Source names used in raw.ingest_files, raw.rejected_records and the summary.
VOUCHERIFY_WEBHOOKS = "voucherify_webhooks"
VOUCHERIFY_EXPORTS = "voucherify_exports"
VOUCHERIFY_API = "voucherify_api"
SEGMENT_WAREHOUSE = "segment_warehouse"
SEGMENT_ARCHIVE = "segment_archive"
SOURCES = (VOUCHERIFY_WEBHOOKS, VOUCHERIFY_EXPORTS, VOUCHERIFY_API, SEGMENT_WAREHOUSE, SEGMENT_ARCHIVE)

GZIP_MAGIC = b"\x1f\x8b"
_EPOCH_MS_DAY = re.compile(r"^\d{13}$")


@dataclass(frozen=True)
class LandingFile:
    path: Path  # absolute
    rel: str  # relative to the landing folder, with forward slashes (the lineage key)
    source: str
    kind: str  # ndjson | json | csv | parquet
    size: int
    # Source-specific context taken from the path.
    group: str | None = None  # exported_object, api endpoint, Segment source schema or source id
    table: str | None = None  # Segment warehouse table
    received_day_ms: int | None = None  # Segment archive: receive day from the path


@dataclass(frozen=True)
class SkippedFile:
    rel: str
    reason: str


def discover(landing: Path) -> tuple[list[LandingFile], list[SkippedFile]]:
    """Every loadable file under `landing`, sorted by path, plus the files skipped and why."""
    if not landing.exists():
        raise IngestError(f"landing folder {landing} does not exist")
    if not landing.is_dir():
        raise IngestError(f"landing folder {landing} is not a directory")
    files: list[LandingFile] = []
    skipped: list[SkippedFile] = []
    seen_dirs: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(landing, followlinks=True):  # landings are often assembled from links
        st = os.stat(dirpath)
        if (st.st_dev, st.st_ino) in seen_dirs:  # a link loop: each real folder is read once
            dirnames.clear()
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        dirnames.sort()
        rel_dir = Path(dirpath).relative_to(landing)
        if rel_dir.parts[:1] == ("ground_truth",):
            dirnames.clear()  # written by `loyalty generate` for the tests; never data
            continue
        if rel_dir == STATE_DIR:
            dirnames.clear()  # the API pull's own bookkeeping (state file, lock): neither data nor a stray
            continue
        for name in sorted(filenames):
            path = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            found = classify(rel, path)
            if isinstance(found, SkippedFile):
                skipped.append(found)
            else:
                files.append(found)
    return files, skipped


def classify(rel: str, path: Path) -> LandingFile | SkippedFile:
    parts = rel.split("/")
    name = parts[-1]
    if name.startswith("."):
        return SkippedFile(rel, "hidden or partial file")
    try:
        size = path.stat().st_size
    except OSError as exc:
        return SkippedFile(rel, f"cannot stat: {exc.strerror}")
    top = parts[:2]
    lower = name.lower()

    if top == ["voucherify", "webhooks"] and len(parts) >= 3:
        if lower.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
            return LandingFile(path, rel, VOUCHERIFY_WEBHOOKS, "ndjson", size)
        if lower.endswith((".json", ".json.gz")):
            return LandingFile(path, rel, VOUCHERIFY_WEBHOOKS, "json", size)
        return SkippedFile(rel, "not a webhook file (*.ndjson[.gz] or *.json)")

    if top == ["voucherify", "exports"] and len(parts) >= 4:
        if lower.endswith((".csv", ".csv.gz")):
            return LandingFile(path, rel, VOUCHERIFY_EXPORTS, "csv", size, group=parts[2])
        return SkippedFile(rel, "not an export CSV")

    if top == ["voucherify", "api"] and len(parts) >= 4:
        if lower.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
            return LandingFile(path, rel, VOUCHERIFY_API, "ndjson", size, group=parts[2])
        return SkippedFile(rel, "not an API object file (*.ndjson)")

    if top == ["segment", "warehouse"] and len(parts) >= 4:
        kind = "parquet" if lower.endswith(".parquet") else "csv" if lower.endswith((".csv", ".csv.gz")) else None
        if kind is None:
            return SkippedFile(rel, "not a warehouse dump (*.csv or *.parquet)")
        schema = parts[2]
        # <schema>/<table>.<ext>  or  <schema>/<table>/**/<file>.<ext>
        table = _strip_ext(name) if len(parts) == 4 else parts[3]
        return LandingFile(path, rel, SEGMENT_WAREHOUSE, kind, size, group=schema, table=table)

    if top == ["segment", "archive"]:
        # …/segment-logs/<source-id>/<13-digit epoch ms day>/<opaque>
        if "segment-logs" in parts:
            i = parts.index("segment-logs")
            tail = parts[i + 1 :]
            if len(tail) == 3 and _EPOCH_MS_DAY.match(tail[1]):
                return LandingFile(
                    path, rel, SEGMENT_ARCHIVE, "ndjson", size, group=tail[0], received_day_ms=int(tail[1])
                )
        return SkippedFile(rel, "not a Segment archive object (segment-logs/<source-id>/<epoch-ms-day>/<file>)")

    return SkippedFile(rel, "outside the landing layout")


def _strip_ext(name: str) -> str:
    for ext in (".csv.gz", ".csv", ".parquet"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def is_gzip(path: Path) -> bool:
    """Gzip by content, not by name: some clients decompress transparently and keep `.gz`."""
    with open(path, "rb") as fh:
        return fh.read(2) == GZIP_MAGIC
