"""The landing layout and the source registry: where each source's files land, the raw table they load
into, and the column that dates their records. Ingest, `loyalty status`, the Data health page and the
tests all read it from here.

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

# The layout, relative to the landing folder.
WEBHOOKS_DIR = Path("voucherify") / "webhooks"  # **/*.ndjson[.gz] | *.json: deliveries, one per line or per file
RECEIVED_DIR = WEBHOOKS_DIR / "received"  # what `loyalty receive` appends (<UTC date>/<file>.ndjson)
EXPORTS_DIR = Path("voucherify") / "exports"  # <exported_object>/**/*.csv: Exports API downloads
API_DIR = Path("voucherify") / "api"  # <endpoint>/**/*.ndjson: objects from `loyalty pull voucherify`
PULL_STATE_DIR = Path("voucherify") / "_state"  # the pull's state file and lock; never ingested
SEGMENT_WAREHOUSE_DIR = Path("segment") / "warehouse"  # <source_schema>/<table>[/**]/<file>.{csv,parquet}
SEGMENT_ARCHIVE_DIR = Path("segment") / "archive"  # **/segment-logs/<source-id>/<epoch-ms day>/<object>
GROUND_TRUTH_DIR = Path("ground_truth")  # written by `loyalty generate` for the tests; never ingested

# Source names used in raw.ingest_files, raw.rejected_records, run records and the summary.
VOUCHERIFY_WEBHOOKS = "voucherify_webhooks"
VOUCHERIFY_EXPORTS = "voucherify_exports"
VOUCHERIFY_API = "voucherify_api"
SEGMENT_WAREHOUSE = "segment_warehouse"
SEGMENT_ARCHIVE = "segment_archive"


@dataclass(frozen=True)
class Source:
    name: str
    landing_dir: Path  # relative to the landing folder
    raw_table: str
    raw_filter: str  # SQL predicate selecting this source's rows of raw_table ("true" when it owns the table)
    # The column of raw_table dating each record for freshness: for events, a time the vendor's servers set when
    # the record was made or received, never a client's clock (Segment's `timestamp` comes from devices that
    # queue events offline and may be set wrong); for snapshots, when they were loaded.
    freshness_column: str


SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        # event.created_at (v2024), else created_at (v2018): when Voucherify created the event.
        Source(VOUCHERIFY_WEBHOOKS, WEBHOOKS_DIR, "raw.voucherify_webhooks", "true", "created_at"),
        # Exports are snapshots of Voucherify's state, so they are dated by when they arrived: a customer export
        # made today is current although no customer changed for a month, and the rows name no export time.
        # (Parsing every exported row's dates would also cost seconds per million rows on each page view.)
        Source(VOUCHERIFY_EXPORTS, EXPORTS_DIR, "raw.voucherify_exports", "true", "_ingested_at"),
        # created_at, else date, of the pulled object.
        Source(VOUCHERIFY_API, API_DIR, "raw.voucherify_api_objects", "true", "created_at"),
        # received_at: when Segment's servers received the message.
        Source(SEGMENT_WAREHOUSE, SEGMENT_WAREHOUSE_DIR, "raw.segment_events", "origin = 'warehouse'", "received_at"),
        Source(SEGMENT_ARCHIVE, SEGMENT_ARCHIVE_DIR, "raw.segment_events", "origin = 'archive'", "received_at"),
    )
}


def freshness_sql() -> str:
    """One row per source, in registry order: source, rows (in the raw layer), newest_record_at and
    last_loaded_at (when it last loaded a new file, from raw.ingest_files).

    Records dated after now() are left out: a clock set wrong must not make a source look fresh for ever.
    """
    branches = "\n    union all\n    ".join(
        f"select {position} as position, '{s.name}' as source, count(*) as rows, "
        f"max(dated_at) filter (where dated_at <= now()) as newest_record_at "
        f"from (select {s.freshness_column} as dated_at from {s.raw_table} where {s.raw_filter})"
        for position, s in enumerate(SOURCES.values())
    )
    return f"""
with per_source as (
    {branches}
),
loads as (select source, max(loaded_at) as last_loaded_at from raw.ingest_files group by source)
select source, rows, newest_record_at, last_loaded_at
from per_source left join loads using (source)
order by position
"""


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
        if rel_dir.parts[:1] == GROUND_TRUTH_DIR.parts:
            dirnames.clear()  # written by `loyalty generate` for the tests; never data
            continue
        if rel_dir == PULL_STATE_DIR:
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
    top = tuple(parts[:2])
    lower = name.lower()

    if top == WEBHOOKS_DIR.parts and len(parts) >= 3:
        if lower.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
            return LandingFile(path, rel, VOUCHERIFY_WEBHOOKS, "ndjson", size)
        if lower.endswith((".json", ".json.gz")):
            return LandingFile(path, rel, VOUCHERIFY_WEBHOOKS, "json", size)
        return SkippedFile(rel, "not a webhook file (*.ndjson[.gz] or *.json)")

    if top == EXPORTS_DIR.parts and len(parts) >= 4:
        if lower.endswith((".csv", ".csv.gz")):
            return LandingFile(path, rel, VOUCHERIFY_EXPORTS, "csv", size, group=parts[2])
        return SkippedFile(rel, "not an export CSV")

    if top == API_DIR.parts and len(parts) >= 4:
        if lower.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
            return LandingFile(path, rel, VOUCHERIFY_API, "ndjson", size, group=parts[2])
        return SkippedFile(rel, "not an API object file (*.ndjson)")

    if top == SEGMENT_WAREHOUSE_DIR.parts and len(parts) >= 4:
        kind = "parquet" if lower.endswith(".parquet") else "csv" if lower.endswith((".csv", ".csv.gz")) else None
        if kind is None:
            return SkippedFile(rel, "not a warehouse dump (*.csv or *.parquet)")
        schema = parts[2]
        # <schema>/<table>.<ext>  or  <schema>/<table>/**/<file>.<ext>
        table = _strip_ext(name) if len(parts) == 4 else parts[3]
        return LandingFile(path, rel, SEGMENT_WAREHOUSE, kind, size, group=schema, table=table)

    if top == SEGMENT_ARCHIVE_DIR.parts:
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
