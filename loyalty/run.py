"""`loyalty run`, the scheduled job: lock, ingest, build, publish, and record the run.

    <warehouse>.lock          flock held for the whole run (a second run exits 4 at once)
    <warehouse>.next          the copy being ingested into and built; renamed over <warehouse> on success
    <warehouse>.runs.ndjson   the run log: a JSON line when a run starts and one when it ends

Every run record goes to the run log (a start with no end is a run that crashed). A succeeded run also writes
the records into `ops.runs` of the build it publishes (failed runs from the log included), so the warehouse
carries its own history;
a failed run never writes the published file, which readers may hold open.

stdout carries only the result (a short summary, or the run record as one JSON line with --json);
progress, ingest and dbt output go to stderr.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from rich.console import Console

from loyalty.build import BuildFailed, BuildResult, build
from loyalty.engines import spark as spark_engine
from loyalty.engines.spark import SparkConfig
from loyalty.errors import USER_ERRORS, LoyaltyError
from loyalty.lock import run_lock
from loyalty.publish import next_path_for, prepare_next, publish
from loyalty.push.log import fold_push_log
from loyalty.signals import Stopped

OPS_DDL = """
create schema if not exists ops;
create table if not exists ops.runs (
    run_id          varchar primary key,   -- <UTC start>-<random>, sorts by start time
    started_at      timestamptz not null,
    finished_at     timestamptz,
    outcome         varchar not null,      -- succeeded | failed | crashed (killed before it could record an end)
    full_refresh    boolean not null,
    rows_loaded     json,                  -- {source: rows loaded by this run}
    rows_rejected   json,                  -- {source: records quarantined by this run}
    dbt_results     json,                  -- {elapsed_seconds, counts: {status: n}, problems: [...], slowest: [...]}
    stage_seconds   json,                  -- {copy, ingest, build, publish}
    error           varchar,
    host            varchar,
    pid             bigint
);
"""
RUN_COLUMNS = (
    "run_id",
    "started_at",
    "finished_at",
    "outcome",
    "full_refresh",
    "rows_loaded",
    "rows_rejected",
    "dbt_results",
    "stage_seconds",
    "error",
    "host",
    "pid",
)

SLOWEST_NODES = 10  # per run record: enough to spot a model getting slow, small enough to keep every run
_console = Console(stderr=True, log_path=False)


@dataclass
class RunRecord:
    run_id: str
    started_at: str
    full_refresh: bool
    finished_at: str | None = None
    outcome: str = "running"
    rows_loaded: dict[str, int] = field(default_factory=dict)
    rows_rejected: dict[str, int] = field(default_factory=dict)
    dbt_results: dict = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    @classmethod
    def begin(cls, full_refresh: bool) -> RunRecord:
        now = datetime.now(UTC)
        return cls(
            run_id=f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}", started_at=now.isoformat(), full_refresh=full_refresh
        )

    def finish(self, outcome: str, error: str | None = None) -> None:
        self.finished_at = datetime.now(UTC).isoformat()
        self.outcome = outcome
        self.error = error

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def run_log_path_for(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".runs.ndjson")


def run(
    landing: Path,
    warehouse: Path,
    *,
    dbt_project: Path | None = None,
    full_refresh: bool = False,
    as_json: bool = False,
    spark: SparkConfig | None = None,
) -> RunRecord:
    """Ingest `landing` and build `dbt_project` (default: the shipped one) into a copy of `warehouse`, then
    publish it atomically; return the run record. With `spark`, the build runs on Spark from the Parquet raw
    layer and its marts are loaded into the copy.

    Raises RunLockedError (exit 4) when another run holds the lock, LoyaltyError when the run failed;
    in both cases the published warehouse is untouched.
    """
    landing, warehouse = Path(landing), Path(warehouse)
    with run_lock(warehouse):
        record = RunRecord.begin(full_refresh)
        _append_run_log(warehouse, record)  # a run killed outright still leaves a trace (status shows it crashed)
        _console.log(f"run {record.run_id}: {landing} → {warehouse}")
        try:
            with _stdout_to_stderr():
                _ingest_build_publish(landing, warehouse, dbt_project, record, spark)
        except BaseException as exc:
            reason = str(exc) if isinstance(exc, (*USER_ERRORS, Stopped)) else f"{type(exc).__name__}: {exc}"
            record.finish("failed", error=reason or type(exc).__name__)
            _append_run_log(warehouse, record)
            _report(record, warehouse, as_json)
            if not isinstance(exc, Exception):
                raise  # KeyboardInterrupt and friends keep their meaning
            kept = next_path_for(warehouse)
            kept_note = f" (the failed attempt is kept at {kept} until the next run)" if kept.exists() else ""
            message = f"run {record.run_id} failed; {warehouse} was left unchanged{kept_note}: {record.error}"
            raise LoyaltyError(message, getattr(exc, "exit_code", None)) from exc
        _append_run_log(warehouse, record)
        _report(record, warehouse, as_json)
        return record


def _ingest_build_publish(
    landing: Path, warehouse: Path, dbt_project: Path | None, record: RunRecord, spark: SparkConfig | None
) -> None:
    from ingest import load_landing

    if not landing.is_dir():
        raise LoyaltyError(f"landing folder {landing} does not exist")
    with _stage(record, "copy"):
        next_path = prepare_next(warehouse)
    spark = spark and spark_engine.for_published(spark, warehouse)
    with _stage(record, "ingest"):
        report = load_landing(landing, next_path, raw_parquet=spark and spark.raw_folder(warehouse))
        loaded = {source: stats for source, stats in report.per_source.items() if stats.files}
        record.rows_loaded = {source: stats.rows for source, stats in loaded.items()}
        record.rows_rejected = {source: stats.rejected for source, stats in loaded.items()}
    with _stage(record, "build"):
        try:
            if spark:
                result = spark_engine.build(next_path, spark, project_dir=dbt_project, full_refresh=record.full_refresh)
                spark_engine.load_marts_into(next_path, next_path, spark, project_dir=dbt_project)
            else:
                result = build(next_path, project_dir=dbt_project, full_refresh=record.full_refresh)
        except LoyaltyError as failure:
            record.dbt_results = _dbt_results(failure.result if isinstance(failure, BuildFailed) else None)
            raise
        record.dbt_results = _dbt_results(result)
    with _stage(record, "publish"):
        record.finish("succeeded")
        earlier = [
            _as_crashed(r) if r["outcome"] == "running" else r
            for r in _read_run_log(warehouse)
            if r["run_id"] != record.run_id
        ]
        _write_ops_runs(next_path, [*earlier, record])
        fold_push_log(next_path, warehouse)  # ops.push_runs / ops.push_log: the push log survives every publish
        _refuse_if_still_open(next_path)
        publish(next_path, warehouse)


@contextmanager
def _stage(record: RunRecord, name: str) -> Iterator[None]:
    _console.log(f"{name}…")
    started = time.perf_counter()
    try:
        yield
    finally:
        record.stage_seconds[name] = round(time.perf_counter() - started, 3)


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Keep stdout for the result: ingest progress and dbt logs (Python or native writes) go to stderr."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _dbt_results(result: BuildResult | None) -> dict:
    """What the run record keeps of a build: status counts, the nodes that failed and the slowest nodes."""
    if result is None or not result.nodes:
        return {"counts": {}, "problems": [], "slowest": [], "note": "dbt ran no nodes"}
    counts: dict[str, int] = {}
    for node in result.nodes:
        counts[node.status] = counts.get(node.status, 0) + 1
    slowest = sorted(result.nodes, key=lambda n: n.seconds, reverse=True)[:SLOWEST_NODES]
    return {
        "elapsed_seconds": round(result.seconds, 3),
        "counts": counts,
        "problems": [{"node": n.unique_id, "status": n.status, "message": n.message[:500]} for n in result.failed],
        "slowest": [{"node": n.unique_id, "status": n.status, "seconds": n.seconds} for n in slowest],
    }


def _write_ops_runs(database: Path, records: list[RunRecord | dict]) -> None:
    """Insert the run records (new ones only), checkpoint and close, leaving no WAL behind."""
    rows = []
    for record in records:
        values = asdict(record) if isinstance(record, RunRecord) else record
        rows.append(
            [
                json.dumps(values.get(c))
                if c in {"rows_loaded", "rows_rejected", "dbt_results", "stage_seconds"}
                else values.get(c)
                for c in RUN_COLUMNS
            ]
        )
    placeholders = ", ".join("?" for _ in RUN_COLUMNS)
    con = duckdb.connect(str(database))
    try:
        con.execute(OPS_DDL)
        con.executemany(f"insert or ignore into ops.runs ({', '.join(RUN_COLUMNS)}) values ({placeholders})", rows)
        con.execute("checkpoint")
    finally:
        con.close()


def _refuse_if_still_open(database: Path) -> None:
    """A connection still open on the new build (a leaked handle) could write to it after it is published."""
    fd_dir = Path("/proc/self/fd")
    if not fd_dir.is_dir():
        return
    target = str(database.resolve())
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd) == target:
                raise LoyaltyError(
                    f"{database} is still open in this process (a connection was not closed); not publishing it"
                )
        except OSError:
            continue


def _append_run_log(warehouse: Path, record: RunRecord) -> None:
    path = run_log_path_for(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (record.to_json() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_run_log(warehouse: Path) -> list[dict]:
    """The latest record of each run in the run log (a run logs its start and its end); torn lines are skipped."""
    path = run_log_path_for(warehouse)
    if not path.exists():
        return []
    records: dict[str, dict] = {}
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a crash mid-write
        if isinstance(record, dict) and "run_id" in record:
            records[record["run_id"]] = record
    return list(records.values())


def _as_crashed(record: dict) -> dict:
    return {**record, "outcome": "crashed", "error": "the run ended without recording an outcome (killed or crashed)"}


def _still_running(record: dict) -> bool:
    if record.get("host") != socket.gethostname():
        return True  # cannot tell from here
    try:
        os.kill(int(record["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True
    return True


def read_runs(warehouse: Path, con: duckdb.DuckDBPyConnection | None = None) -> list[dict]:
    """Every known run, newest first: the run log, plus ops.runs of the published warehouse (by run_id)."""
    runs = {
        r["run_id"]: r if r.get("outcome") != "running" or _still_running(r) else _as_crashed(r)
        for r in _read_run_log(warehouse)
    }
    if con is not None and _table_exists(con, "ops", "runs"):
        cursor = con.execute(f"select {', '.join(RUN_COLUMNS)} from ops.runs")
        for row in cursor.fetchall():
            values = dict(zip(RUN_COLUMNS, row))
            for key in ("rows_loaded", "rows_rejected", "dbt_results", "stage_seconds"):
                values[key] = json.loads(values[key]) if values[key] else {}
            for key in ("started_at", "finished_at"):
                if values[key] is not None:
                    values[key] = values[key].astimezone(UTC).isoformat()
            runs.setdefault(values["run_id"], values)
    return sorted(runs.values(), key=lambda r: r.get("started_at") or "", reverse=True)


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchone()[0]
    )


def _report(record: RunRecord, warehouse: Path, as_json: bool) -> None:
    if as_json:
        print(record.to_json(), flush=True)
        return
    if record.outcome != "succeeded":
        return  # the CLI prints the one-line reason on stderr
    seconds = sum(record.stage_seconds.values())
    loaded = ", ".join(f"{source} {rows:,}" for source, rows in record.rows_loaded.items()) or "nothing new"
    rejected = sum(record.rows_rejected.values())
    counts = ", ".join(f"{n} {status}" for status, n in sorted(record.dbt_results.get("counts", {}).items()))
    print(f"run {record.run_id} succeeded in {seconds:.1f} s; published {warehouse}", flush=True)
    print(f"  loaded: {loaded}; rejected: {rejected:,}", flush=True)
    print(f"  dbt build: {counts or 'no results'}", flush=True)
