"""`loyalty push voucherify`: the warehouse's computed traits and triggered rewards, sent back to Voucherify.

One push, holding `<warehouse>.push.lock` (one push per warehouse at a time):
1. reads the published warehouse read-only (marts.activation_member_traits, activation_reward_rules,
   activation_reward_qualifiers) and the push log `<warehouse>.push.ndjson` (what earlier pushes sent);
2. traits (`traits.py`): finishes async actions an interrupted push left running, then sends every member
   whose trait values changed since they last landed, as customer metadata;
3. rewards (`rewards.py`): resolves publications an interrupted push left in doubt, then publishes a voucher
   to every member newly meeting a rule's condition, once per rule, ever;
4. records every step in the push log before and after each call, and the push itself when it starts and
   ends. `loyalty run` folds the log into ops.push_runs / ops.push_log of each build (`log.py`).

Failures of single customers are recorded and retried by the next push; the push then ends with one line
naming what failed (exit 1). Rate limits, 5xx and timeouts are the API client's (`ingest/voucherify/client.py`);
the app token is never printed or logged.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import duckdb
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ingest.locks import LockHeld, exclusive_lock
from ingest.voucherify.client import ApiClient, RetryPolicy, secrets_redacted
from loyalty.errors import EXIT_LOCKED, USER_ERRORS, LoyaltyError
from loyalty.push.log import PushLog, PushRecord, push_lock_path_for, push_log_path_for, read_state
from loyalty.push.rewards import read_rules, sync_rewards
from loyalty.push.session import PushSession
from loyalty.push.traits import DEFAULT_BATCH_BYTES, read_trait_sets, sync_traits

SCOPES = ("all", "traits", "rewards")
ACTIVATION_MARTS = ("activation_member_traits", "activation_reward_rules", "activation_reward_qualifiers")


def push(
    warehouse: Path,
    *,
    base_url: str,
    app_id: str | None,
    app_token: str | None,
    metadata_prefix: str = "",
    dry_run: bool = False,
    scope: str = "all",
    max_attempts: int = 6,
    backoff_base: float = 1.0,
    backoff_cap: float = 60.0,
    max_retry_after: float = 300.0,
    timeout: float = 30.0,
    poll_interval: float = 1.0,
    poll_cap: float = 30.0,
    action_timeout: float = 3600.0,
    max_batch_bytes: int = DEFAULT_BATCH_BYTES,
    console: Console | None = None,
    out: TextIO | None = None,
) -> PushRecord:
    """Push changed traits and new rewards (or, with dry_run, print them and send nothing); return the record."""
    warehouse = Path(warehouse)
    if scope not in SCOPES:
        raise LoyaltyError(f"--only must be traits or rewards, got {scope!r}")
    if not dry_run:
        if not app_id or not app_token:
            raise LoyaltyError(
                "Voucherify credentials missing: set LOYALTY_VOUCHERIFY_APP_ID and LOYALTY_VOUCHERIFY_APP_TOKEN "
                "(or voucherify_app_id / voucherify_app_token in loyalty.toml)"
            )
        if not base_url or urlsplit(str(base_url)).scheme not in {"http", "https"}:
            raise LoyaltyError(f"Voucherify base URL must be http(s)://…, got {base_url!r}")
    if not warehouse.exists():
        raise LoyaltyError(f"no warehouse at {warehouse}: run `loyalty run` to build and publish one")
    console = console or Console(stderr=True)
    try:
        with exclusive_lock(push_lock_path_for(warehouse)):
            return _push_locked(
                warehouse,
                base_url=base_url,
                app_id=app_id,
                app_token=app_token,
                metadata_prefix=metadata_prefix or "",
                dry_run=dry_run,
                scope=scope,
                policy=RetryPolicy(max_attempts, backoff_base, backoff_cap, max_retry_after),
                timeout=timeout,
                session_options=dict(poll_interval=poll_interval, poll_cap=poll_cap, action_timeout=action_timeout),
                max_batch_bytes=max_batch_bytes,
                console=console,
                out=out or sys.stdout,
            )
    except LockHeld as held:
        raise LoyaltyError(
            f"another `loyalty push` (pid {held.holder}) is running on {warehouse} (lock {held.path})", EXIT_LOCKED
        ) from None


def _push_locked(
    warehouse: Path,
    *,
    base_url: str,
    app_id: str | None,
    app_token: str | None,
    metadata_prefix: str,
    dry_run: bool,
    scope: str,
    policy: RetryPolicy,
    timeout: float,
    session_options: dict,
    max_batch_bytes: int,
    console: Console,
    out: TextIO,
) -> PushRecord:
    log_path = push_log_path_for(warehouse)
    con = _open_published(warehouse)
    try:
        last_seq, latest = read_state(con, log_path)
        trait_sets, key_types = read_trait_sets(con, metadata_prefix) if scope != "rewards" else ([], {})
        rules = read_rules(con) if scope != "traits" else []
    finally:
        con.close()

    log = PushLog(log_path, last_seq)
    record = PushRecord.begin(dry_run, scope)
    client = None if dry_run else ApiClient(str(base_url), str(app_id), str(app_token), policy=policy, timeout=timeout)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=console,
    )
    session = PushSession(client, log, record, progress, out, **session_options)
    log.push(record)  # a push killed outright still leaves a trace (folded as crashed)
    try:
        with secrets_redacted([str(app_token or "")]), progress:
            if scope != "rewards":
                sync_traits(session, trait_sets, key_types, latest, max_batch_bytes)
            if scope != "traits":
                sync_rewards(session, rules, latest)
        record.finish("failed" if session.problems else "succeeded", " | ".join(session.problems) or None)
    except BaseException as exc:
        reason = str(exc) if isinstance(exc, USER_ERRORS) else f"{type(exc).__name__}: {exc}"
        record.finish("failed", reason or type(exc).__name__)
        raise
    finally:
        log.push(record)
        log.close()
        if client is not None:
            client.close()
    console.print(_summary(record, client))
    if session.problems:
        raise LoyaltyError(f"push {record.push_id}: " + " | ".join(session.problems))
    return record


def _open_published(warehouse: Path) -> duckdb.DuckDBPyConnection:
    """The published warehouse read-only, attached into a private in-memory database (never blocks `loyalty run`)."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("attach ? as warehouse (read_only)", [str(warehouse)])
        present = {
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'warehouse' and table_schema = 'marts'"
            ).fetchall()
        }
    except duckdb.Error as exc:
        con.close()
        raise LoyaltyError(f"cannot read the warehouse {warehouse}: {exc}") from exc
    missing = [name for name in ACTIVATION_MARTS if name not in present]
    if missing:
        con.close()
        raise LoyaltyError(
            f"{warehouse} has no {', '.join('marts.' + name for name in missing)}: run `loyalty run` to build them"
        )
    return con


def _summary(record: PushRecord, client: ApiClient | None) -> str:
    counts = record.counts
    if record.dry_run:
        return (
            f"dry run {record.push_id}: nothing sent; {counts['traits_changed']} member(s) with changed traits, "
            "rewards as listed on stdout"
        )
    return (
        f"push {record.push_id} {record.outcome}: traits {counts['traits_updated']} updated, "
        f"{counts['traits_failed']} failed; rewards {counts['rewards_published']} published, "
        f"{counts['rewards_failed']} failed, {counts['rewards_waiting_for_limit']} waiting for a limit "
        f"({client.requests} requests, {client.retries} retries)"
    )
