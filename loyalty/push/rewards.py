"""Triggered rewards: one Voucherify publication per rule × newly qualifying member, ever.

Rules live in macros/reward_rules.sql; marts.activation_reward_qualifiers lists who meets each rule's
condition in this build, and the push log says who was already rewarded. Each new member gets
POST /v1/publications {campaign: {name}, customer: {source_id}, source_id, channel}, recorded `sending` in
the log (fsynced) before the call and `published` or `failed` after it.

Exactly once, even across crashes and retries (Voucherify API reference, "Create Publication" and "List
Publications"):
- the publication `source_id` is derived from the rule and the customer, so the same reward always carries
  the same id. Voucherify answers a repeated source_id with the publication it already made (or 400
  `duplicate_source_id`, which we resolve by looking the publication up), never a second voucher; this also
  makes the HTTP client's retries of a timed-out POST safe;
- a reward left `sending` by a killed push is in doubt: the next push first asks
  GET /v1/publications?source_id=… ("returns exactly the same code published initially") and records what it
  finds, so nothing is sent again when the first call had landed;
- a rule with `join_once` (a campaign customers join only once) is published with ?join_once=true and no
  source_id, as Voucherify advises for such campaigns: the API then returns the customer's one code again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from ingest.voucherify.client import ApiError, MalformedResponse
from loyalty.push.session import PushSession

PUBLICATIONS_PATH = "/v1/publications"
CHANNEL = "loyalty-warehouse"
STOP_AFTER_REFUSALS = 3


@dataclass(frozen=True)
class RewardRule:
    name: str
    campaign: str
    publication_limit: int | None
    join_once: bool
    qualifiers: tuple[str, ...]  # customer_source_ids meeting the condition now, in customer_source_id order


def publication_source_id(rule: str, customer_source_id: str) -> str:
    """The same for a rule and customer in every push: Voucherify's handle for "this reward was given"."""
    digest = hashlib.sha256(f"{rule}\n{customer_source_id}".encode()).hexdigest()[:24]
    return f"lw-{rule}-{digest}"


def read_rules(con) -> list[RewardRule]:
    rules = con.execute(
        "select rule_name, campaign, publication_limit, join_once from warehouse.marts.activation_reward_rules "
        "order by rule_position"
    ).fetchall()
    qualifiers: dict[str, list[str]] = {}
    for rule_name, customer in con.execute(
        "select rule_name, customer_source_id from warehouse.marts.activation_reward_qualifiers "
        "order by rule_name, customer_source_id"
    ).fetchall():
        qualifiers.setdefault(rule_name, []).append(customer)
    return [
        RewardRule(name, campaign, limit, bool(join_once), tuple(qualifiers.get(name, ())))
        for name, campaign, limit, join_once in rules
    ]


def sync_rewards(session: PushSession, rules: list[RewardRule], latest: list[dict]) -> None:
    for rule in rules:
        state = {i["customer_source_id"]: i for i in latest if i["kind"] == "reward" and i["subject"] == rule.name}
        _sync_rule(session, rule, state)


def _sync_rule(session: PushSession, rule: RewardRule, state: dict[str, dict]) -> None:
    rewarded = {customer for customer, item in state.items() if item["published"]}
    in_doubt = [c for c, item in state.items() if not item["published"] and item["status"] == "sending"]
    if in_doubt and not session.dry_run and not rule.join_once:
        for customer in in_doubt:
            source_id = state[customer]["source_id"]
            found = _find_publication(session, source_id)
            if found is not None:
                _record_published(session, rule, customer, source_id, found)
                rewarded.add(customer)
            else:  # it never reached Voucherify: no longer in doubt, sent below if the member still qualifies
                note = "interrupted before Voucherify made the publication"
                session.log.items(
                    session.record.push_id, "reward", rule.name, "failed", [_entry(customer, source_id, error=note)]
                )
    new = [customer for customer in rule.qualifiers if customer not in rewarded]
    waiting: list[str] = []
    if rule.publication_limit is not None:
        room = max(0, rule.publication_limit - len(rewarded))
        new, waiting = new[:room], new[room:]
    session.count("rewards_waiting_for_limit", len(waiting))
    if session.dry_run:
        limit_note = f", {len(waiting)} waiting for the limit of {rule.publication_limit}" if waiting else ""
        print(
            f"reward {rule.name}: {len(new)} member(s) → POST {PUBLICATIONS_PATH} from campaign "
            f"{rule.campaign!r}{limit_note}",
            file=session.out,
        )
        for customer in new:
            print(f"  {customer} source_id={_source_id_for(rule, customer)}", file=session.out)
        return
    if new:
        _publish_all(session, rule, new)


def _publish_all(session: PushSession, rule: RewardRule, customers: list[str]) -> None:
    task = session.progress.add_task(f"reward {rule.name}", total=len(customers), detail=f"campaign {rule.campaign}")
    refused: dict[str, int] = {}  # reason -> members
    streak: tuple[str, int] = ("", 0)  # the same refusal in a row (unknown campaign, no codes left) stops the rule
    for customer in customers:
        source_id = _source_id_for(rule, customer)
        # Recorded before the call: a crash from here on leaves the reward in doubt for the next push to resolve.
        session.log.items(session.record.push_id, "reward", rule.name, "sending", [_entry(customer, source_id)])
        try:
            publication = _publish(session, rule, customer, source_id)
        except ApiError as exc:
            reason = f"HTTP {exc.status} {exc.reason}"
            session.log.items(
                session.record.push_id, "reward", rule.name, "failed", [_entry(customer, source_id, error=reason)]
            )
            session.count("rewards_failed")
            refused[reason] = refused.get(reason, 0) + 1
            streak = (reason, streak[1] + 1 if streak[0] == reason else 1)
            if streak[1] == STOP_AFTER_REFUSALS:
                break
        else:
            streak = ("", 0)
            _record_published(session, rule, customer, source_id, publication)
        session.progress.advance(task)
    if refused:
        stopped = f"; stopped after {STOP_AFTER_REFUSALS} refusals in a row" if streak[1] == STOP_AFTER_REFUSALS else ""
        reasons = "; ".join(f"{n} × {reason}" for reason, n in sorted(refused.items(), key=lambda item: -item[1]))
        session.problems.append(
            f"reward {rule.name} (campaign {rule.campaign!r}): {sum(refused.values())} member(s) not published, "
            f"retried by the next push{stopped}: {reasons}"
        )


def _source_id_for(rule: RewardRule, customer: str) -> str | None:
    return None if rule.join_once else publication_source_id(rule.name, customer)


def _entry(customer: str, source_id: str | None, **fields: Any) -> dict[str, Any]:
    return {"customer_source_id": customer, "source_id": source_id, **fields}


def _publish(session: PushSession, rule: RewardRule, customer: str, source_id: str | None) -> dict:
    body: dict[str, Any] = {"campaign": {"name": rule.campaign}, "customer": {"source_id": customer}}
    body["channel"] = CHANNEL
    what = f"POST {PUBLICATIONS_PATH} (reward {rule.name}, customer {customer})"
    if source_id is None:
        answer = session.client.post_json(PUBLICATIONS_PATH, body, params={"join_once": "true"}, what=what)
    else:
        try:
            answer = session.client.post_json(PUBLICATIONS_PATH, {**body, "source_id": source_id}, what=what)
        except ApiError as exc:
            if exc.key != "duplicate_source_id":
                raise
            answer = _find_publication(session, source_id)  # made earlier: that one is the reward
            if answer is None:
                raise
    if not isinstance(answer, dict) or not isinstance(answer.get("id"), str):
        raise MalformedResponse(what, "no publication id; the reward stays in doubt and the next push looks it up")
    return answer


def _find_publication(session: PushSession, source_id: str | None) -> dict | None:
    if source_id is None:
        return None
    what = f"GET {PUBLICATIONS_PATH}?source_id={source_id}"
    listed = session.client.get_json(PUBLICATIONS_PATH, params={"source_id": source_id}, what=what)
    publications = listed.get("publications") if isinstance(listed, dict) else None
    if not isinstance(publications, list):
        raise MalformedResponse(what, "no publications list")
    return next((p for p in publications if isinstance(p, dict) and p.get("source_id") == source_id), None)


def _record_published(
    session: PushSession, rule: RewardRule, customer: str, source_id: str | None, publication: dict
) -> None:
    voucher = publication.get("voucher") if isinstance(publication.get("voucher"), dict) else {}
    session.log.items(
        session.record.push_id,
        "reward",
        rule.name,
        "published",
        [_entry(customer, source_id, request_id=publication.get("id"), voucher_code=voucher.get("code"))],
    )
    session.count("rewards_published")
