"""`load_landing`: every new or changed landing file into the raw layer, one transaction per group of files.

Steps: discover the files → hash them against the manifest → load each source's new/changed files
in groups (many small files per statement; a large file alone) → summary. A group's data rows,
quarantined records and manifest rows commit together, so a run killed at any moment and started
again ends with exactly the rows of an uninterrupted run. Before the commit, every file is checked to
be still what was hashed; one that changed is loaded again from a private copy hashed as it is made.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest import manifest
from ingest.context import DEFAULT_MAX_RECORD_BYTES, BatchContext, Rejects
from ingest.errors import IngestError
from ingest.landing import SOURCES, LandingFile, SkippedFile, discover
from ingest.parquet_layer import write_new_batches
from ingest.raw_schema import DDL
from ingest.sources import LOADERS, FastPathDeclined, FastPlan

# Input bytes per transaction. DuckDB's JSON reader streams: few large transactions, since each further one
# costs a recompression at checkpoint. Rows parsed in Python wait in memory until the commit: smaller ones.
GROUP_BYTES = 4 << 30
GROUP_PRECISE_BYTES = 256 << 20
GROUP_FILES = 1000
MEMORY_LIMIT = "1GB"  # DuckDB's share; keeps a 5 GB landing well under 2 GB peak
# Text columns (payload above all) as zstd: the default dict_fsst analysis ran single-threaded at each
# commit and cost ~40% of the load; zstd is that much faster and its raw tables ~4× smaller.
FORCE_COMPRESSION = "zstd"


# Failures of the machine rather than of a file's content.
_RUN_FAILURES = (duckdb.OutOfMemoryException, duckdb.FatalException, duckdb.InterruptException, MemoryError)


@dataclass
class SourceStats:
    files: int = 0
    rows: int = 0
    rejected: int = 0


@dataclass
class IngestReport:
    batch_id: str
    files_seen: int = 0
    files_loaded: int = 0
    files_unchanged: int = 0
    rows_loaded: int = 0
    rejected_total: int = 0
    per_source: dict[str, SourceStats] = field(default_factory=dict)
    skipped: list[SkippedFile] = field(default_factory=list)

    @property
    def files_skipped(self) -> int:
        return len(self.skipped)


@dataclass(frozen=True)
class _Todo:
    file: LandingFile  # its size is the size hashed
    digest: manifest.FileDigest
    gzip: bool
    replaces: bool  # an earlier version of this path is in the raw layer
    snapshot: bool = False  # `file` is a private copy, hashed as it was made: it cannot change under the load

    @property
    def content_hash(self) -> str:
        return self.digest.content_hash

    @property
    def lines(self) -> int | None:
        """Physical lines of an NDJSON file, gunzipped (for the fast path's self-check)."""
        return self.digest.lines


def load_landing(
    landing: Path,
    warehouse: Path | duckdb.DuckDBPyConnection,
    *,
    progress: bool = True,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    raw_parquet: Path | None = None,
) -> IngestReport:
    """Load new and changed files of `landing` into the raw schema of `warehouse` (created if missing);
    with `raw_parquet`, also write each committed batch there as Parquet (ingest/parquet_layer.py)."""
    landing = Path(landing)
    files, skipped = discover(landing)
    con, owned = _connect(warehouse)
    restore = _session_settings(con)
    console = Console(stderr=True, quiet=not progress)
    ctx = BatchContext(uuid.uuid4().hex, datetime.now(UTC), max_record_bytes)
    report = IngestReport(batch_id=ctx.batch_id, files_seen=len(files), skipped=skipped)
    report.per_source = {s: SourceStats() for s in SOURCES}
    snapshots = _Snapshots()
    try:
        con.execute(DDL)
        con.execute(
            "insert into raw.ingest_batches (batch_id, started_at, status) values (?, ?, 'running')",
            [ctx.batch_id, ctx.ingested_at],
        )
        status = "failed"
        try:
            with _progress(console) as bar:
                todo = _changed_files(con, files, bar, report)
                _load_all(con, todo, ctx, bar, report, snapshots)
            status = "succeeded"
        finally:
            con.execute(
                """update raw.ingest_batches set finished_at = now(), status = ?, files_loaded = ?,
                   rows_loaded = ?, rows_rejected = ? where batch_id = ?""",
                [status, report.files_loaded, report.rows_loaded, report.rejected_total, ctx.batch_id],
            )
        if owned:
            con.execute("checkpoint")  # now, with the ingest's compression, not at close with the defaults
        if raw_parquet is not None:
            write_new_batches(con, Path(raw_parquet))
    finally:
        snapshots.remove()
        restore()
        if owned:
            con.close()
    if progress:
        Console().print(summary_table(report))
    return report


def _connect(warehouse: Path | duckdb.DuckDBPyConnection) -> tuple[duckdb.DuckDBPyConnection, bool]:
    if isinstance(warehouse, duckdb.DuckDBPyConnection):
        return warehouse, False
    path = Path(warehouse)
    if path.exists() and path.is_dir():
        raise IngestError(f"warehouse {path} is a directory, expected a DuckDB file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return duckdb.connect(str(path)), True
    except duckdb.IOException as exc:
        raise IngestError(f"cannot open warehouse {path}: {str(exc).splitlines()[0]}") from exc
    except OSError as exc:
        raise IngestError(f"cannot create warehouse folder {path.parent}: {exc.strerror}") from exc


def _session_settings(con: duckdb.DuckDBPyConnection) -> Callable[[], None]:
    """Ingest settings (UTC, unordered parallel inserts, bounded memory, zstd text, no DuckDB progress bar);
    returns a function that restores the caller's."""
    wanted = {
        "TimeZone": "UTC",
        "preserve_insertion_order": "false",
        "memory_limit": MEMORY_LIMIT,
        "force_compression": FORCE_COMPRESSION,  # numeric columns fall back to their usual methods
        "enable_progress_bar": "false",  # ours (rich) reports files and bytes; DuckDB's would print over it
    }
    before = {k: con.execute(f"select current_setting('{k}')").fetchone()[0] for k in wanted}
    for k, v in wanted.items():
        con.execute(f"set {k} = '{v}'")

    def restore() -> None:
        for k, v in before.items():
            con.execute(f"set {k} = '{v}'")

    return restore


def _changed_files(con, files: list[LandingFile], bar: Progress, report: IngestReport) -> Iterator[_Todo]:
    """New or changed files, yielded in path order as soon as each is hashed, so that loading a group
    overlaps hashing the next files (DuckDB's commits leave a core free)."""
    known = manifest.loaded_versions(con)
    task = bar.add_task("checking", total=sum(f.size for f in files), files=0, total_files=len(files))
    # Two at a time: sha256 releases the GIL, so one file hashes while another is counted.
    pool = ThreadPoolExecutor(max_workers=2)
    try:
        for f, d in zip(files, pool.map(_digest, files)):
            bar.update(task, advance=f.size, files=bar.tasks[task].fields["files"] + 1)
            if d is None:
                report.skipped.append(SkippedFile(f.rel, "removed before it could be read"))
                continue
            todo_item = _todo_if_changed(f, d, known, report)
            if todo_item is not None:
                yield todo_item
    finally:
        pool.shutdown(cancel_futures=True)  # a failed load must not wait for the rest to be hashed


def _digest(f: LandingFile) -> manifest.FileDigest | None:
    try:
        return manifest.digest(f)
    except FileNotFoundError:
        return None


def _todo_if_changed(f: LandingFile, d: manifest.FileDigest, known: dict, report: IngestReport) -> _Todo | None:
    previous = known.get(f.rel)
    if previous == (d.size, d.content_hash):
        report.files_unchanged += 1
        return None
    return _Todo(replace(f, size=d.size), d, d.gzip, previous is not None)


def _load_all(
    con, todo: Iterator[_Todo], ctx: BatchContext, bar: Progress, report: IngestReport, snapshots: _Snapshots
) -> None:
    task = bar.add_task("loading", total=None, files=0, total_files=0)
    group: list[_Todo] = []
    size = precise_size = 0
    for t in todo:
        bar.update(
            task,
            total=(bar.tasks[task].total or 0) + t.file.size,
            total_files=bar.tasks[task].fields["total_files"] + 1,
        )
        precise = 0 if LOADERS[t.file.source].fast_eligible(t) else t.file.size
        full = (
            size + t.file.size > GROUP_BYTES
            or precise_size + precise > GROUP_PRECISE_BYTES
            or len(group) >= GROUP_FILES
        )
        if group and (t.file.source != group[0].file.source or full):
            _load_and_count(con, group, ctx, bar, task, report, snapshots)
            group, size, precise_size = [], 0, 0
        group.append(t)
        size += t.file.size
        precise_size += precise
    if group:
        _load_and_count(con, group, ctx, bar, task, report, snapshots)


def _load_and_count(
    con, group: list[_Todo], ctx: BatchContext, bar: Progress, task, report: IngestReport, snapshots: _Snapshots
) -> None:
    """One group of files of one source, as one transaction, into the report."""
    source = group[0].file.source
    results = _load_group(con, LOADERS[source], group, ctx, snapshots)
    stats = report.per_source[source]
    for t in group:
        if t.file.rel not in results:
            report.skipped.append(SkippedFile(t.file.rel, "removed while it was being loaded"))
            continue
        rows, rejected = results[t.file.rel]
        stats.files += 1
        stats.rows += rows
        stats.rejected += rejected
        report.files_loaded += 1
        report.rows_loaded += rows
        report.rejected_total += rejected
    bar.update(task, advance=sum(t.file.size for t in group), files=bar.tasks[task].fields["files"] + len(group))


def _load_group(
    con, loader, group: list[_Todo], ctx: BatchContext, snapshots: _Snapshots
) -> dict[str, tuple[int, int]]:
    """One transaction: forget old versions, insert rows and rejects, record the manifest. Returns
    {file: (rows, rejected)}; a file removed before it could be loaded is missing from it."""
    plan = FastPlan()
    try:
        while True:
            if not group:
                return {}
            try:
                return _transaction(con, loader, group, ctx, plan)
            except FastPathDeclined as exc:  # a statement failed: retry with a narrower plan
                plan = exc.plan
            except _FilesChanged as exc:  # rolled back: load those files again, from copies that cannot change
                group = snapshots.replace(group, exc.todos)
    except _RUN_FAILURES as exc:  # not the file's fault: fail the run, quarantine nothing, retry next time
        raise IngestError(f"ingest stopped while loading {group[0].file.rel}: {str(exc).splitlines()[0]}") from exc
    except Exception as exc:
        if len(group) > 1:
            out: dict[str, tuple[int, int]] = {}
            for t in group:
                out.update(_load_group(con, loader, [t], ctx, snapshots))
            return out
        if _changed(group):  # unreadable because it changed (cut short, replaced, removed): not the content's fault
            return _load_group(con, loader, snapshots.replace(group, group), ctx, snapshots)
        return _quarantine_file(con, loader, group[0], ctx, exc)


class _FilesChanged(Exception):
    def __init__(self, todos: list[_Todo]):
        super().__init__(", ".join(t.file.rel for t in todos))
        self.todos = todos


def _changed(group: list[_Todo]) -> list[_Todo]:
    return [t for t in group if not t.snapshot and not manifest.unchanged(t.file, t.digest)]


class _Snapshots:
    """Private copies of files that changed while they were loaded, in a temporary folder removed at the end."""

    def __init__(self) -> None:
        self.folder: Path | None = None

    def replace(self, group: list[_Todo], changed: list[_Todo]) -> list[_Todo]:
        """`group` with each of `changed` replaced by a fresh copy, or dropped when the file is gone."""
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="loyalty-ingest-"))
        swapped: dict[str, _Todo | None] = {}
        for t in changed:
            try:
                copy, d = manifest.snapshot(t.file, self.folder)
            except FileNotFoundError:
                swapped[t.file.rel] = None
                continue
            swapped[t.file.rel] = replace(t, file=copy, digest=d, gzip=d.gzip, snapshot=True)
        out = [swapped.get(t.file.rel, t) for t in group]
        return [t for t in out if t is not None]

    def remove(self) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _transaction(con, loader, group: list[_Todo], ctx: BatchContext, plan: FastPlan):
    con.begin()
    try:
        manifest.forget(con, [t.file for t in group if t.replaces], loader.table)
        results = loader.load(con, group, ctx, plan)
        # The hash recorded must be that of the bytes loaded: a file rewritten since it was hashed (even back to
        # the same content after the loader read a partial state) is loaded again.
        changed = _changed(group)
        if changed:
            raise _FilesChanged(changed)
        manifest.record(
            con,
            [manifest.ManifestEntry(t.file, t.content_hash, *results[t.file.rel]) for t in group],
            ctx.batch_id,
        )
        con.commit()
        return results
    except BaseException:
        con.rollback()
        raise


def _quarantine_file(con, loader, t: _Todo, ctx: BatchContext, exc: Exception) -> dict[str, tuple[int, int]]:
    """A file no loader could read at all: one rejected record for the whole file, manifest row kept
    so it is not retried until its content changes."""
    con.begin()
    try:
        manifest.forget(con, [t.file] if t.replaces else [], loader.table)
        rejects = Rejects(t.file.source)
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        rejects.add(t.file.rel, None, f"unreadable file: {reason}"[:500], b"")
        rejects.flush(con, ctx)
        manifest.record(con, [manifest.ManifestEntry(t.file, t.content_hash, 0, 1)], ctx.batch_id)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return {t.file.rel: (0, 1)}


class _progress:
    """A rich progress display (files and bytes) on stderr; silent when the console is quiet."""

    def __init__(self, console: Console):
        self.bar = Progress(
            TextColumn("[bold]{task.description:>9}"),
            BarColumn(),
            TextColumn("{task.fields[files]:,}/{task.fields[total_files]:,} files"),
            DownloadColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=console.quiet,
        )

    def __enter__(self) -> Progress:
        self.bar.start()
        return self.bar

    def __exit__(self, *exc) -> None:
        self.bar.stop()


def summary_table(report: IngestReport) -> Table:
    table = Table(title=f"ingest batch {report.batch_id}")
    table.add_column("source")
    table.add_column("files", justify="right")
    table.add_column("rows", justify="right")
    table.add_column("rejected", justify="right")
    for source, s in report.per_source.items():
        table.add_row(source, f"{s.files:,}", f"{s.rows:,}", f"{s.rejected:,}", style="red" if s.rejected else None)
    table.add_row(
        "total", f"{report.files_loaded:,}", f"{report.rows_loaded:,}", f"{report.rejected_total:,}", style="bold"
    )
    table.caption = (
        f"{report.files_seen:,} files seen, {report.files_unchanged:,} unchanged, {report.files_skipped:,} skipped"
    )
    return table
