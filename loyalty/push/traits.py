"""Computed traits → the metadata of each Voucherify customer, for members whose values changed.

A member's trait set is the row of marts.activation_member_traits (the traits of macros/member_traits.sql),
sent as `metadata` ({prefix}{trait}: value) with the member's customer_source_id. "Changed" means its hash
differs from the hash of the values that last landed (status `updated` in the push log), so values that
failed, or were in doubt when a push was killed, are sent again until they land, and a push right after a
successful one sends nothing.

Endpoint (Voucherify API reference, "Update Customers in Bulk"): POST /v1/customers/bulk/async takes an
array of customer bodies ({source_id, metadata}), up to 10 MB per request (413 above), upserts customers not
found, and answers 202 {async_action_id}. GET /v1/async-actions/{id} then goes ENQUEUED → IN_PROGRESS →
DONE | FAILED; a DONE CUSTOMERS.BULK_UPDATE result has done_count, failed_count and errors[] naming each
failed customer by source_id ({key, message, details, source_id}). POST /v1/customers/metadata/async is not
used: it applies one metadata object to many customers, and its result's errors do not name the customer, so
a per-customer outcome could not be recorded.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ingest.errors import IngestError
from ingest.voucherify.client import ApiError, MalformedResponse
from loyalty.push.session import PushSession

SUBJECT = "traits"
BULK_PATH = "/v1/customers/bulk/async"
SCHEMA_PATH = "/v1/metadata-schemas/customer"
MAX_BODY_BYTES = 10_485_760  # "Payload content length greater than maximum allowed: 10485760" (413)
DEFAULT_BATCH_BYTES = 9_000_000  # headroom below the limit for the HTTP client's own encoding
METADATA_TYPES = {"BOOLEAN": "boolean", "VARCHAR": "string", "DATE": "date"}
_ACTUAL_VALUE = re.compile(r"\s*\(actual value is .*?\)", re.DOTALL)


@dataclass(frozen=True)
class TraitSet:
    customer_source_id: str
    metadata: dict[str, Any]
    values_hash: str


def metadata_type(duckdb_type: str) -> str:
    """The Voucherify metadata schema type a trait column's values fit."""
    upper = duckdb_type.upper()
    if upper.startswith("TIMESTAMP"):
        return "datetime"
    if upper in METADATA_TYPES:
        return METADATA_TYPES[upper]
    return "number" if upper.split("(")[0] in _NUMERIC else "string"


_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT"}
_NUMERIC |= {"DECIMAL", "DOUBLE", "FLOAT", "REAL"}


def json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # DECIMAL(18,2) money: exact to the cent as a JSON number
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def values_hash(metadata: dict[str, Any]) -> str:
    canonical = json.dumps(metadata, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def read_trait_sets(con, prefix: str) -> tuple[list[TraitSet], dict[str, str]]:
    """Every member's trait set, and each metadata key's schema type."""
    cursor = con.execute("select * from warehouse.marts.activation_member_traits order by customer_source_id")
    columns = [(name, str(kind)) for name, kind, *_ in cursor.description]
    traits = [name for name, _ in columns if name != "customer_source_id"]
    key_types = {prefix + name: metadata_type(kind) for name, kind in columns if name != "customer_source_id"}
    sets = []
    for row in cursor.fetchall():
        values = dict(zip([name for name, _ in columns], row))
        metadata = {prefix + name: json_value(values[name]) for name in traits}
        sets.append(TraitSet(values["customer_source_id"], metadata, values_hash(metadata)))
    return sets, key_types


def sync_traits(
    session: PushSession,
    trait_sets: list[TraitSet],
    key_types: dict[str, str],
    latest: list[dict],
    max_batch_bytes: int,
) -> None:
    """Finish async actions an interrupted push left running, then send every changed trait set."""
    state = {item["customer_source_id"]: item for item in latest if item["kind"] == "traits"}
    if not session.dry_run:
        for action_id, customers in _pending_actions(state).items():
            try:
                action = _wait_for_action(session, action_id)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                # Voucherify no longer knows the action: its outcome is lost, so the values are sent again.
                action = {"status": "FAILED", "result": {"message": f"the async action is gone ({exc.reason})"}}
            for customer in _record_outcomes(session, action_id, customers, action, set(key_types)):
                state[customer]["landed_hash"] = customers[customer]
    changed = [s for s in trait_sets if s.values_hash != (state.get(s.customer_source_id) or {}).get("landed_hash")]
    session.count("traits_changed", len(changed))
    if session.dry_run:
        print(f"traits: {len(changed)} member(s) changed → POST {BULK_PATH}", file=session.out)
        for trait_set in changed:
            print(f"  {trait_set.customer_source_id} {json.dumps(trait_set.metadata)}", file=session.out)
        return
    if not changed:
        return
    undefined = _undefined_keys(session, key_types)
    if undefined:
        keys = ", ".join(f"{key} ({key_types[key]})" for key in undefined)
        session.problems.append(
            "Voucherify's customer metadata schema allows only defined properties and these trait keys are not "
            f"defined: {keys}. Define them under Project settings → Metadata schema → Customer and push again; "
            f"no trait was sent ({len(changed)} member(s) waiting)"
        )
        return
    task = session.progress.add_task("traits", total=len(changed), detail="sending")
    sent: dict[str, dict[str, str]] = {}  # async action id -> {customer: values hash}
    for batch in _batches(changed, max_batch_bytes):
        entries = [{"customer_source_id": s.customer_source_id, "values_hash": s.values_hash} for s in batch]
        session.log.items(
            session.record.push_id,
            "traits",
            SUBJECT,
            "sending",
            [{**entry, "values": s.metadata} for entry, s in zip(entries, batch)],
        )
        body = [{"source_id": s.customer_source_id, "metadata": s.metadata} for s in batch]
        answer = session.client.post_json(BULK_PATH, body)
        action_id = answer.get("async_action_id") if isinstance(answer, dict) else None
        if not isinstance(action_id, str):
            raise MalformedResponse(f"POST {BULK_PATH}", "no async_action_id")
        session.log.items(
            session.record.push_id, "traits", SUBJECT, "accepted", [{**e, "request_id": action_id} for e in entries]
        )
        sent[action_id] = {s.customer_source_id: s.values_hash for s in batch}
        session.progress.update(task, detail=f"{len(sent)} async action(s) accepted")
    for action_id, customers in sent.items():
        _record_outcomes(session, action_id, customers, _wait_for_action(session, action_id), set(key_types))
        session.progress.advance(task, len(customers))
    session.progress.update(task, detail="done")


def _pending_actions(state: dict[str, dict]) -> dict[str, dict[str, str]]:
    """Async actions accepted by an interrupted push whose outcome was never recorded."""
    pending: dict[str, dict[str, str]] = {}
    for customer, item in state.items():
        if item["status"] == "accepted" and item.get("request_id"):
            pending.setdefault(item["request_id"], {})[customer] = item["values_hash"]
    return pending


def _batches(changed: list[TraitSet], max_bytes: int) -> list[list[TraitSet]]:
    """Consecutive trait sets whose JSON array body stays within `max_bytes`."""
    batches: list[list[TraitSet]] = []
    size = 0
    for trait_set in changed:
        item = len(json.dumps({"source_id": trait_set.customer_source_id, "metadata": trait_set.metadata}).encode())
        if item + 2 > max_bytes:
            raise IngestError(f"customer {trait_set.customer_source_id}: its metadata alone exceeds {max_bytes} bytes")
        if not batches or size + item + 1 > max_bytes:
            batches.append([])
            size = 1  # the closing bracket; each item adds itself and a comma or the opening bracket
        batches[-1].append(trait_set)
        size += item + 1
    return batches


def _undefined_keys(session: PushSession, key_types: dict[str, str]) -> list[str]:
    """Trait keys a schema with `allow_defined_only` would reject (GET /v1/metadata-schemas/customer)."""
    try:
        schema = session.client.get_json(SCHEMA_PATH)
    except ApiError as exc:
        if exc.status != 404:  # 404: the project defines no customer schema, so any key is allowed
            session.progress.console.print(f"[yellow]could not read the customer metadata schema[/yellow]: {exc}")
        return []
    if not isinstance(schema, dict) or not schema.get("allow_defined_only"):
        return []
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    return [
        key
        for key in key_types
        if key not in properties or (isinstance(properties[key], dict) and properties[key].get("deleted"))
    ]


def _wait_for_action(session: PushSession, action_id: str) -> dict:
    what = f"GET /v1/async-actions/{action_id}"
    deadline = time.monotonic() + session.action_timeout
    delay = session.poll_interval
    while True:
        action = session.client.get_json(f"/v1/async-actions/{action_id}", what=what)
        status = action.get("status") if isinstance(action, dict) else None
        if status in {"DONE", "FAILED"}:
            return action
        if status not in {"ENQUEUED", "IN_PROGRESS"}:
            raise MalformedResponse(what, f"unknown async action status {status!r}")
        if time.monotonic() + delay > deadline:
            raise IngestError(
                f"Voucherify async action {action_id} still {status} after {session.action_timeout:.0f} s; "
                "the next push waits for it again"
            )
        session.client.sleep(delay)
        delay = min(delay * 1.5, session.poll_cap)


def _describe(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)[:300]
    parts = [str(error[key]) for key in ("key", "message", "details") if error.get(key)]
    return ": ".join(parts)[:500] or "no reason given"


def _record_outcomes(
    session: PushSession, action_id: str, customers: dict[str, str], action: dict, keys: set[str]
) -> list[str]:
    """One `updated` or `failed` line per customer of the async action, from its result; returns the updated."""
    result = action.get("result") if isinstance(action.get("result"), dict) else {}
    errors = result.get("errors") if isinstance(result.get("errors"), list) else []
    failed: dict[str, str] = {}
    if action["status"] == "FAILED":
        reason = result.get("message") or "; ".join(_describe(e) for e in errors) or "the async action FAILED"
        failed = dict.fromkeys(customers, f"async action {action_id} FAILED: {reason}")
    else:
        for error in errors:
            if isinstance(error, dict) and error.get("source_id") in customers:
                failed[error["source_id"]] = _describe(error)
        unnamed = [e for e in errors if not (isinstance(e, dict) and e.get("source_id") in customers)]
        failed_count = result.get("failed_count")
        if unnamed or (isinstance(failed_count, int) and failed_count > len(failed)):
            # Failures we cannot pin on a customer: nobody else in the action is known to have been updated.
            reason = (
                f"async action {action_id} reported {failed_count if failed_count is not None else len(errors)} "
                f"failure(s) without naming every customer ({'; '.join(_describe(e) for e in unnamed) or 'no detail'})"
            )
            failed = {customer: failed.get(customer, reason) for customer in customers}
    push_id = session.record.push_id
    updated = [c for c in customers if c not in failed]
    session.log.items(
        push_id,
        "traits",
        SUBJECT,
        "updated",
        [{"customer_source_id": c, "values_hash": customers[c], "request_id": action_id} for c in updated],
    )
    session.log.items(
        push_id,
        "traits",
        SUBJECT,
        "failed",
        [
            {"customer_source_id": c, "values_hash": customers[c], "request_id": action_id, "error": failed[c]}
            for c in failed
        ],
    )
    session.count("traits_updated", len(updated))
    session.count("traits_failed", len(failed))
    if failed:
        session.problems.append(_failure_summary(failed, keys))
    return updated


def _failure_summary(failed: dict[str, str], keys: set[str]) -> str:
    """Failures grouped by reason; errors about our metadata keys name each key to define or fix, once.

    Voucherify words metadata validation errors "<property>: <rule>, … (actual value is '…')" (reference:
    `metadata_validation_failed` details and async action reasons), so a key followed by a colon is named.
    """
    rejected: dict[str, str] = {}
    reasons: dict[str, int] = {}
    for error in failed.values():
        named = {key: match for key in keys if (match := _key_problem(key).search(error))}
        for key, match in named.items():
            rejected.setdefault(key, _ACTUAL_VALUE.sub("", match.group(1)).strip(" ,;"))
        if not named:
            reason = _ACTUAL_VALUE.sub("", error)  # grouped by the rule broken, not by each customer's value
            reasons[reason] = reasons.get(reason, 0) + 1
    parts = []
    if rejected:
        listed = "; ".join(f"{key} ({why})" if why else key for key, why in sorted(rejected.items()))
        parts.append(
            f"Voucherify's customer metadata schema rejected these keys: {listed}. Define or fix them under "
            "Project settings → Metadata schema → Customer"
        )
    parts += [f"{n} × {reason}" for reason, n in sorted(reasons.items(), key=lambda item: -item[1])[:5]]
    return f"{len(failed)} member(s) not updated, re-sent by the next push: " + "; ".join(parts)


def _key_problem(key: str) -> re.Pattern:
    return re.compile(rf"(?<![\w.]){re.escape(key)}\s*:\s*([^;]*)")
