"""The push log: what `loyalty push` sent, one JSON line per event in `<warehouse>.push.ndjson`.

The published warehouse cannot hold it: readers hold that file open read-only and only `loyalty run` ever
replaces it. So the log is an append-only file beside it (like the run log), and every `loyalty run` folds
the whole log into `ops.push_runs` and `ops.push_log` of the build it publishes.

Two kinds of line, each appended with O_APPEND and fsynced before the push goes on:
  {"event": "push", "push_id", "started_at", "finished_at", "outcome", "dry_run", "scope", "counts", "error",
   "host", "pid"}                                   when a push starts and when it ends (the last line wins)
  {"event": "item", "push_id", "seq", "at", "kind", "subject", "customer_source_id", "status", "values_hash",
   "values", "request_id", "source_id", "voucher_code", "error"}
                                                    a customer's trait set (kind traits, subject "traits") or
                                                    reward (kind reward, subject the rule) changing status
`seq` numbers item lines across the whole log (one push at a time holds the push lock), so the latest line
per customer and subject is the one with the highest seq. Statuses:
  traits: sending → accepted (request_id = async action id) → updated | failed
  reward: sending → published (request_id = publication id) | failed
A `sending` line without a later one is in doubt: the call may or may not have reached Voucherify.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from ingest.durable import fsync_path

# read_json's view of a log line; the line kinds share one column list (absent keys read as null).
_COLUMNS = {
    "event": "varchar",
    "push_id": "varchar",
    "started_at": "timestamptz",
    "finished_at": "timestamptz",
    "outcome": "varchar",
    "dry_run": "boolean",
    "scope": "varchar",
    "counts": "json",
    "host": "varchar",
    "pid": "bigint",
    "seq": "bigint",
    "at": "timestamptz",
    "kind": "varchar",
    "subject": "varchar",
    "customer_source_id": "varchar",
    "status": "varchar",
    "values_hash": "varchar",
    "values": "json",
    "request_id": "varchar",
    "source_id": "varchar",
    "voucher_code": "varchar",
    "error": "varchar",
}
# Every line of the log as rows; a line torn by a crash reads as nulls and is dropped. `$push_log` is the path.
EVENTS = (
    "(select * from read_json($push_log, format = 'newline_delimited', ignore_errors = true, columns = {"
    + ", ".join(f"{name!r}: {kind!r}" for name, kind in _COLUMNS.items())
    + "}) where event in ('push', 'item'))"
)
COUNT_KEYS = (
    "traits_changed",
    "traits_updated",
    "traits_failed",
    "rewards_published",
    "rewards_failed",
    "rewards_waiting_for_limit",
)
# One row per push: its last record (start and end share a push_id). Counts are what the push itself did.
PUSH_RUNS_SELECT = f"""
select push_id, started_at, finished_at, outcome, dry_run, scope,
       {", ".join(f"coalesce(cast(counts->>'{key}' as bigint), 0) as {key}" for key in COUNT_KEYS)},
       error, host, pid
from (
    select *, row_number() over (partition by push_id order by finished_at nulls first) as n,
           count(*) over (partition by push_id) as lines
    from {EVENTS} where event = 'push'
)
where n = lines
"""
# One row per push × customer × subject (the trait set, or a reward rule): where it ended in that push.
PUSH_LOG_SELECT = f"""
select push_id, kind, subject, customer_source_id,
       arg_max(status, seq) as status,
       arg_max(values_hash, seq) filter (where values_hash is not null) as values_hash,
       arg_max("values", seq) filter (where "values" is not null) as "values",
       arg_max(request_id, seq) filter (where request_id is not null) as request_id,
       arg_max(source_id, seq) filter (where source_id is not null) as source_id,
       arg_max(voucher_code, seq) filter (where voucher_code is not null) as voucher_code,
       arg_max(error, seq) as error,
       min("at") as first_at,
       max("at") as last_at
from {EVENTS}
where event = 'item'
group by push_id, kind, subject, customer_source_id
"""
# The latest line per customer and subject over every push: what a new push starts from.
LATEST_ITEMS_SELECT = f"""
select kind, subject, customer_source_id,
       arg_max(status, seq) as status,
       arg_max(request_id, seq) as request_id,
       arg_max(source_id, seq) filter (where source_id is not null) as source_id,
       arg_max(values_hash, seq) as values_hash,
       arg_max(values_hash, seq) filter (where status = 'updated') as landed_hash,
       bool_or(status = 'published') as published
from {EVENTS}
where event = 'item'
group by kind, subject, customer_source_id
"""


def push_log_path_for(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".push.ndjson")


def push_lock_path_for(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".push.lock")


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class PushRecord:
    push_id: str
    started_at: str
    dry_run: bool
    scope: str  # all | traits | rewards
    finished_at: str | None = None
    outcome: str = "running"  # running | succeeded | failed (crashed: ended without a record, see fold)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    error: str | None = None
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)

    @classmethod
    def begin(cls, dry_run: bool, scope: str) -> PushRecord:
        now = datetime.now(UTC)
        return cls(f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}", now.isoformat(), dry_run, scope)

    def finish(self, outcome: str, error: str | None = None) -> None:
        self.finished_at, self.outcome, self.error = _now(), outcome, error


class PushLog:
    """Appends events durably; hold the push lock while using it (item `seq` continues the log's numbering)."""

    def __init__(self, path: Path, last_seq: int):
        self.path = path
        self.seq = last_seq
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if os.fstat(self._fd).st_size and not _ends_with_newline(path):
            self._write(["\n"])  # end a line torn by a crash, so the next one starts clean
        fsync_path(path.parent)

    def close(self) -> None:
        os.close(self._fd)

    def push(self, record: PushRecord) -> None:
        self._write([json.dumps({"event": "push", **asdict(record)}, separators=(",", ":")) + "\n"])

    def items(self, push_id: str, kind: str, subject: str, status: str, entries: list[dict[str, Any]]) -> None:
        """One line per entry (each has customer_source_id and any of the item fields), in one write and fsync."""
        at, lines = _now(), []
        for entry in entries:
            self.seq += 1
            line = {"event": "item", "push_id": push_id, "seq": self.seq, "at": at, "kind": kind, "subject": subject}
            lines.append(json.dumps({**line, "status": status, **entry}, separators=(",", ":")) + "\n")
        if lines:
            self._write(lines)

    def _write(self, lines: list[str]) -> None:
        data = "".join(lines).encode()
        written = 0
        while written < len(data):
            written += os.write(self._fd, data[written:])
        os.fsync(self._fd)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def read_state(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[int, list[dict[str, Any]]]:
    """(the log's highest item seq, the latest item per kind × subject × customer); empty without a log."""
    if not path.exists():
        return 0, []
    params = {"push_log": str(path)}
    last_seq = con.execute(f"select coalesce(max(seq), 0) from {EVENTS}", params).fetchone()[0]
    cursor = con.execute(LATEST_ITEMS_SELECT, params)
    names = [column[0] for column in cursor.description]
    return int(last_seq), [dict(zip(names, row)) for row in cursor.fetchall()]


OPS_PUSH_TABLES = {
    "push_runs": f"{PUSH_RUNS_SELECT} order by started_at",
    "push_log": f"{PUSH_LOG_SELECT} order by push_id, kind, subject, customer_source_id",
}


def fold_push_log(database: Path, warehouse: Path) -> None:
    """Rebuild ops.push_runs and ops.push_log of `database` (a build about to be published) from the push log.

    A push still `running` whose process is gone is recorded as `crashed`. Without a log the tables are empty.
    """
    log_path = push_log_path_for(warehouse)
    params = {"push_log": str(log_path) if log_path.exists() else os.devnull}
    con = duckdb.connect(str(database))
    try:
        con.execute("create schema if not exists ops")
        for table, select in OPS_PUSH_TABLES.items():
            con.execute(f"create or replace table ops.{table} as {select}", params)
        running = con.execute("select push_id, host, pid from ops.push_runs where outcome = 'running'").fetchall()
        crashed = [push_id for push_id, host, pid in running if not _still_running(host, pid)]
        if crashed:
            con.execute(
                "update ops.push_runs set outcome = 'crashed', "
                "error = coalesce(error, 'the push ended without recording an outcome (killed or crashed)') "
                "where list_contains($crashed, push_id)",
                {"crashed": crashed},
            )
        con.execute("checkpoint")
    finally:
        con.close()


def _still_running(host: str | None, pid: int | None) -> bool:
    if host != socket.gethostname():
        return True  # cannot tell from here
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError):
        return True
    return True
