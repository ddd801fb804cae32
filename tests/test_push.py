"""`loyalty push voucherify` against a real HTTP server on loopback that behaves like the Voucherify API.

The warehouse is the generated test world, built once by `loyalty run` (conftest); each test pushes from
its own copy (the push log lives beside the warehouse). Expected members, trait values and qualifying
members come from the generator's ground truth, never from the marts the push reads.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from fake_voucherify_push_api import FakeVoucherifyPush
from rich.console import Console

from loyalty.errors import LoyaltyError
from loyalty.push import push
from loyalty.push.log import PushLog, PushRecord, push_log_path_for
from loyalty.push.rewards import publication_source_id

pytestmark = pytest.mark.slow  # the built world (one full `loyalty run`)

FAST = dict(backoff_base=0.01, backoff_cap=0.05, poll_interval=0.01, poll_cap=0.02, timeout=5.0)


# ── expectations from the ground truth ──────────────────────────────────────────────────────────
def truth_members(built_world) -> dict[str, dict]:
    with (built_world.truth_dir / "members.csv").open(encoding="utf-8") as handle:
        return {row["customer_source_id"]: row for row in csv.DictReader(handle)}


def computed_traits(built_world) -> dict[str, str]:
    """Trait name -> Voucherify metadata type: the dim_members columns after the member metrics."""
    from dashboards.queries import MEMBER_METRIC_COLUMNS

    with built_world.connect() as con:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and table_name = 'dim_members' order by ordinal_position"
        ).fetchall()
    types = {"BOOLEAN": "boolean", "VARCHAR": "string"}
    return {name: types.get(kind, "number") for name, kind in columns if name not in MEMBER_METRIC_COLUMNS}


def silver_or_gold(built_world) -> set[str]:
    """Who the example rule silver_tier_gift rewards: members whose current tier is Silver or Gold."""
    return {c for c, row in truth_members(built_world).items() if row["current_tier"] in {"Silver", "Gold"}}


# ── helpers ─────────────────────────────────────────────────────────────────────────────────────
@pytest.fixture()
def fake():
    with FakeVoucherifyPush() as server:
        yield server


@pytest.fixture()
def warehouse(built_world, tmp_path) -> Path:
    copy = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_world.warehouse, copy)
    return copy


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def run_push(fake: FakeVoucherifyPush, warehouse: Path, **options) -> PushRecord:
    return push(
        warehouse,
        base_url=fake.url,
        app_id=fake.app_id,
        app_token=fake.app_token,
        console=options.pop("console", quiet()),
        out=options.pop("out", io.StringIO()),
        **(FAST | options),
    )


def rebuilt(warehouse: Path, *statements: str) -> None:
    """Stand-in for the next build: the same warehouse with some mart rows changed (replaced atomically)."""
    next_build = warehouse.with_name(warehouse.name + ".next")
    shutil.copyfile(warehouse, next_build)
    with duckdb.connect(str(next_build)) as con:
        for statement in statements:
            con.execute(statement)
    os.replace(next_build, warehouse)


def topped_up_qualifiers(warehouse: Path, built_world, at_least: int = 6) -> set[str]:
    """silver_tier_gift's qualifiers, topped up in this warehouse copy to `at_least` with other members: the test
    world ends today, so how many reach Silver varies from day to day, and these tests need several."""
    qualifiers = silver_or_gold(built_world)
    extra = sorted(set(truth_members(built_world)) - qualifiers)[: max(0, at_least - len(qualifiers))]
    rebuilt(
        warehouse,
        *(
            "insert into marts.activation_reward_qualifiers (rule_name, campaign, customer_source_id) "
            f"values ('silver_tier_gift', 'Tier Upgrade Gift', '{customer}')"
            for customer in extra
        ),
    )
    return qualifiers | set(extra)


def log_items(warehouse: Path) -> list[dict]:
    lines = push_log_path_for(warehouse).read_text().splitlines()
    return [event for event in map(json.loads, lines) if event["event"] == "item"]


def bulk_requests(fake: FakeVoucherifyPush) -> list[list[dict]]:
    return [body for _, body in fake.calls("POST", "/v1/customers/bulk/async")]


# ── traits ──────────────────────────────────────────────────────────────────────────────────────
def test_first_push_sends_every_members_traits_and_rewards_each_qualifier_once(fake, warehouse, built_world):
    record = run_push(fake, warehouse)

    members = truth_members(built_world)
    assert set(fake.customers) == set(members)
    for customer, row in members.items():
        metadata = fake.customers[customer]
        assert set(metadata) == set(computed_traits(built_world))
        assert Decimal(str(metadata["total_order_amount"])) == Decimal(row["lifetime_order_amount"])
        assert metadata["visited_3_plus_locations"] is (int(row["distinct_locations_visited"]) >= 3)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        bought = dict(
            con.execute("select customer_source_id, times_bought_cold_brew_kit from marts.dim_members").fetchall()
        )
    assert {c: m["times_bought_cold_brew_kit"] for c, m in fake.customers.items()} == bought

    expected = silver_or_gold(built_world)
    assert expected, "the test world has no Silver member to reward"
    assert fake.publications_per_reward() == {("Tier Upgrade Gift", c): 1 for c in expected}
    for publication in fake.publications:
        assert publication["source_id"] == publication_source_id("silver_tier_gift", publication["tracking_id"])
        assert publication["channel"] == "loyalty-warehouse"
    assert record.outcome == "succeeded"
    assert record.counts["traits_updated"] == len(members) and record.counts["rewards_published"] == len(expected)

    final = {}
    for item in log_items(warehouse):
        final[(item["kind"], item["customer_source_id"])] = item
    assert {c for (kind, c), i in final.items() if kind == "traits" and i["status"] == "updated"} == set(members)
    published = {c: i for (kind, c), i in final.items() if kind == "reward"}
    assert {c for c, i in published.items() if i["status"] == "published"} == expected
    codes = {p["tracking_id"]: p["voucher"]["code"] for p in fake.publications}
    assert {c: i["voucher_code"] for c, i in published.items()} == codes


def test_a_second_push_right_after_a_successful_one_sends_nothing(fake, warehouse):
    run_push(fake, warehouse)
    before = len(fake.requests)
    record = run_push(fake, warehouse)
    assert fake.requests[before:] == []
    assert record.counts["traits_changed"] == 0 and record.counts["rewards_published"] == 0


def test_only_the_members_whose_traits_changed_are_sent(fake, warehouse, built_world):
    run_push(fake, warehouse)
    changed = sorted(truth_members(built_world))[:3]
    rebuilt(
        warehouse,
        "update marts.activation_member_traits set total_order_amount = total_order_amount + 1.01 "
        f"where customer_source_id in ({', '.join(repr(c) for c in changed)})",
    )
    record = run_push(fake, warehouse)
    assert [[c["source_id"] for c in body] for body in bulk_requests(fake)[1:]] == [changed]
    assert record.counts["traits_changed"] == 3
    for customer in changed:
        expected = Decimal(truth_members(built_world)[customer]["lifetime_order_amount"]) + Decimal("1.01")
        assert Decimal(str(fake.customers[customer]["total_order_amount"])) == expected


def test_metadata_keys_get_the_configured_prefix(fake, warehouse, built_world):
    run_push(fake, warehouse, metadata_prefix="lw_", scope="traits")
    keys = {key for metadata in fake.customers.values() for key in metadata}
    assert keys == {f"lw_{trait}" for trait in computed_traits(built_world)}


def test_a_dry_run_prints_what_would_be_sent_and_sends_nothing(fake, warehouse, built_world):
    out = io.StringIO()
    record = push(warehouse, base_url="", app_id=None, app_token=None, dry_run=True, console=quiet(), out=out)
    printed = out.getvalue()
    assert fake.requests == []
    assert f"traits: {len(truth_members(built_world))} member(s) changed" in printed
    for customer in silver_or_gold(built_world):
        assert f"{customer} source_id={publication_source_id('silver_tier_gift', customer)}" in printed
    assert record.dry_run and record.counts["traits_changed"] == len(truth_members(built_world))
    # A dry run changes no state: the real push afterwards still sends everything.
    run_push(fake, warehouse)
    assert len(fake.customers) == len(truth_members(built_world))


def test_the_cli_dry_run_needs_no_credentials_and_prints_on_stdout(fake, warehouse, built_world):
    command, env = push_command(fake, warehouse, "--dry-run", "--only", "rewards")
    env = {k: v for k, v in env.items() if not k.startswith("LOYALTY_")}
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    expected = silver_or_gold(built_world)
    assert f"reward silver_tier_gift: {len(expected)} member(s) → POST /v1/publications" in finished.stdout
    assert "traits:" not in finished.stdout and "nothing sent" in finished.stderr
    assert fake.requests == []


def test_bulk_requests_stay_within_the_batch_size(fake, warehouse, built_world):
    run_push(fake, warehouse, max_batch_bytes=2_000, scope="traits")
    bodies = bulk_requests(fake)
    assert len(bodies) > 3
    assert all(len(json.dumps(body).encode()) <= 2_000 for body in bodies)
    assert sorted(c["source_id"] for body in bodies for c in body) == sorted(truth_members(built_world))


def test_customers_a_bulk_job_fails_are_recorded_and_re_sent_until_they_land(fake, warehouse, built_world):
    members = sorted(truth_members(built_world))
    fake.failing_customers = {members[0]: "Customer is locked", members[5]: "Customer is locked"}
    with pytest.raises(LoyaltyError, match=r"2 member\(s\) not updated, re-sent by the next push: 2 × .*locked"):
        run_push(fake, warehouse, scope="traits")
    failed = [i for i in log_items(warehouse) if i["status"] == "failed"]
    assert {i["customer_source_id"] for i in failed} == {members[0], members[5]}
    assert all("Customer is locked" in i["error"] and i["request_id"] == "aa_000001" for i in failed)
    assert members[0] not in fake.customers and len(fake.customers) == len(members) - 2

    with pytest.raises(LoyaltyError):  # still refused: tried again
        run_push(fake, warehouse, scope="traits")
    fake.failing_customers = {}
    record = run_push(fake, warehouse, scope="traits")
    assert [sorted(c["source_id"] for c in body) for body in bulk_requests(fake)] == [
        members,
        sorted([members[0], members[5]]),
        sorted([members[0], members[5]]),
    ]
    assert record.counts["traits_updated"] == 2 and set(fake.customers) == set(members)
    run_push(fake, warehouse, scope="traits")
    assert len(bulk_requests(fake)) == 3


def test_an_async_action_that_fails_as_a_whole_is_re_sent(fake, warehouse, built_world):
    fake.failing_actions = 1
    with pytest.raises(LoyaltyError, match="async action aa_000001 FAILED: Processing failed"):
        run_push(fake, warehouse, scope="traits")
    assert fake.customers == {}
    record = run_push(fake, warehouse, scope="traits")
    assert record.counts["traits_updated"] == len(truth_members(built_world))


def test_undefined_metadata_keys_are_reported_once_and_nothing_is_sent(fake, warehouse, built_world):
    traits = computed_traits(built_world)
    fake.customer_schema = {
        "allow_defined_only": True,
        "properties": {
            "total_order_amount": {"type": "number", "array": False, "optional": True},
            "visited_3_plus_locations": {"type": "boolean", "array": False, "optional": True, "deleted": True},
        },
    }
    with pytest.raises(LoyaltyError) as failure:
        run_push(fake, warehouse)
    message = str(failure.value)
    assert "allows only defined properties and these trait keys are not defined: " in message
    undefined = [trait for trait in traits if trait != "total_order_amount"]
    for trait in undefined:
        assert message.count(trait) == 1 and f"{trait} ({traits[trait]})" in message
    assert "total_order_amount" not in message
    assert bulk_requests(fake) == []
    assert len(fake.publications) == len(silver_or_gold(built_world))  # rewards are not held up


def test_keys_rejected_by_the_async_job_are_named_once_not_per_customer(fake, warehouse, built_world):
    fake.schema_status = 403  # the schema cannot be read up front: the bulk job's own errors tell
    fake.customer_schema = {"allow_defined_only": True, "properties": {"total_order_amount": {"type": "number"}}}
    with pytest.raises(LoyaltyError) as failure:
        run_push(fake, warehouse, scope="traits")
    message = str(failure.value)
    assert f"{len(truth_members(built_world))} member(s) not updated" in message
    assert "metadata schema rejected these keys: " in message
    for trait in computed_traits(built_world):
        expected = 0 if trait == "total_order_amount" else 1
        assert message.count(trait) == expected and (not expected or f"{trait} (property is not defined)" in message)
    assert "actual value" not in message


# ── rewards ─────────────────────────────────────────────────────────────────────────────────────
def test_a_rule_limit_caps_publications_and_the_rest_wait(fake, warehouse, built_world):
    expected = sorted(topped_up_qualifiers(warehouse, built_world))
    rebuilt(
        warehouse, "update marts.activation_reward_rules set publication_limit = 3 where rule_name = 'silver_tier_gift'"
    )
    record = run_push(fake, warehouse, scope="rewards")
    assert sorted(p["tracking_id"] for p in fake.publications) == expected[:3]
    assert record.counts["rewards_waiting_for_limit"] == len(expected) - 3
    rebuilt(warehouse, "update marts.activation_reward_rules set publication_limit = 100")
    run_push(fake, warehouse, scope="rewards")
    assert fake.publications_per_reward() == {("Tier Upgrade Gift", c): 1 for c in expected}


def test_a_member_newly_qualifying_in_the_next_build_is_rewarded_and_nobody_twice(fake, warehouse, built_world):
    run_push(fake, warehouse, scope="rewards")
    newcomer = sorted(set(truth_members(built_world)) - silver_or_gold(built_world))[0]
    rebuilt(
        warehouse,
        "insert into marts.activation_reward_qualifiers (rule_name, campaign, customer_source_id) "
        f"values ('silver_tier_gift', 'Tier Upgrade Gift', '{newcomer}')",
    )
    run_push(fake, warehouse, scope="rewards")
    assert [body["customer"]["source_id"] for _, body in fake.calls("POST", "/v1/publications")][-1] == newcomer
    assert fake.publications_per_reward() == {
        ("Tier Upgrade Gift", c): 1 for c in silver_or_gold(built_world) | {newcomer}
    }


def test_an_unknown_campaign_stops_the_rule_after_three_refusals_reported_once(fake, warehouse, built_world):
    expected = topped_up_qualifiers(warehouse, built_world)
    del fake.campaigns["Tier Upgrade Gift"]
    with pytest.raises(LoyaltyError) as failure:
        run_push(fake, warehouse, scope="rewards")
    assert len(fake.calls("POST", "/v1/publications")) == 3
    message = str(failure.value)
    assert "reward silver_tier_gift (campaign 'Tier Upgrade Gift'): 3 member(s) not published" in message
    assert "stopped after 3 refusals in a row: 3 × HTTP 404 [404] not_found" in message
    fake.campaigns["Tier Upgrade Gift"] = "TIER"
    run_push(fake, warehouse, scope="rewards")
    assert fake.publications_per_reward() == {("Tier Upgrade Gift", c): 1 for c in expected}


@pytest.mark.parametrize("duplicate_source_id", ["same", "error"])
def test_rate_limits_5xx_and_timeouts_are_retried_and_no_member_gets_two_publications(
    fake, warehouse, built_world, duplicate_source_id
):
    fake.duplicate_source_id = duplicate_source_id
    fake.fail("POST", "/v1/customers/bulk/async", 429, 503, retry_after="0")
    fake.fail("GET", "/v1/async-actions/", 502, 429, retry_after="1")
    fake.fail("POST", "/v1/publications", 429, retry_after="0")
    fake.slow("POST", "/v1/publications", 1.5)  # made by Voucherify, but the client times out and sends it again
    started = time.monotonic()
    record = run_push(fake, warehouse, timeout=0.5)
    assert time.monotonic() - started >= 1.0  # the Retry-After of 1 s was waited for
    assert record.outcome == "succeeded"
    assert len(fake.calls("POST", "/v1/publications")) == len(silver_or_gold(built_world)) + 2
    assert fake.publications_per_reward() == {("Tier Upgrade Gift", c): 1 for c in silver_or_gold(built_world)}
    assert len(fake.customers) == len(truth_members(built_world))


def test_a_reward_left_in_doubt_that_never_reached_voucherify_is_sent_once(fake, warehouse, built_world):
    customer = sorted(silver_or_gold(built_world))[0]
    source_id = publication_source_id("silver_tier_gift", customer)
    log = PushLog(push_log_path_for(warehouse), 0)  # what a push killed right before its call leaves behind
    crashed = PushRecord.begin(False, "rewards")
    log.push(crashed)
    log.items(
        crashed.push_id,
        "reward",
        "silver_tier_gift",
        "sending",
        [{"customer_source_id": customer, "source_id": source_id}],
    )
    log.close()
    run_push(fake, warehouse, scope="rewards")
    assert fake.calls("GET", "/v1/publications") == [({"source_id": source_id}, None)]
    assert fake.publications_per_reward() == {("Tier Upgrade Gift", c): 1 for c in silver_or_gold(built_world)}


def test_a_join_once_rule_publishes_without_source_id(fake, warehouse, built_world):
    rebuilt(warehouse, "update marts.activation_reward_rules set join_once = true")
    run_push(fake, warehouse, scope="rewards")
    calls = fake.calls("POST", "/v1/publications")
    assert calls and all(query == {"join_once": "true"} and "source_id" not in body for query, body in calls)
    assert fake.publications_per_reward() == {("Tier Upgrade Gift", c): 1 for c in silver_or_gold(built_world)}


# ── crashes, locks, secrets ─────────────────────────────────────────────────────────────────────
def push_command(fake: FakeVoucherifyPush, warehouse: Path, *args: str) -> tuple[list[str], dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
    env |= {"LOYALTY_VOUCHERIFY_APP_ID": fake.app_id, "LOYALTY_VOUCHERIFY_APP_TOKEN": fake.app_token}
    command = [sys.executable, "-m", "loyalty.cli", "push", "voucherify", "--warehouse", str(warehouse)]
    return [*command, "--base-url", fake.url, *args], env


def kill_when(process_holder: list, condition) -> callable:
    def hook(_event) -> None:
        if condition():
            os.kill(process_holder[0].pid, signal.SIGKILL)
            process_holder[0].wait(10)

    return hook


def test_a_push_killed_between_a_publication_and_its_record_resumes_without_publishing_twice(
    fake, warehouse, built_world
):
    expected = topped_up_qualifiers(warehouse, built_world)
    command, env = push_command(fake, warehouse, "--only", "rewards")
    holder: list = []
    fake.after_publication = kill_when(holder, lambda: len(fake.publications) == 3)
    holder.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    assert holder[0].wait(60) == -signal.SIGKILL
    assert len(fake.publications) == 3
    in_doubt = fake.publications[-1]["source_id"]
    statuses = {i["source_id"]: i["status"] for i in log_items(warehouse)}
    assert statuses[in_doubt] == "sending"  # made by Voucherify, never recorded: the crash window

    fake.after_publication = None
    posts_before = len(fake.calls("POST", "/v1/publications"))
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    assert fake.calls("GET", "/v1/publications") == [({"source_id": in_doubt}, None)]
    assert len(fake.calls("POST", "/v1/publications")) - posts_before == len(expected) - 3
    assert fake.publications_per_reward() == {("Tier Upgrade Gift", c): 1 for c in expected}
    assert fake.app_token not in finished.stderr + finished.stdout


def test_a_push_killed_while_its_async_action_runs_resumes_that_action_without_sending_again(
    fake, warehouse, built_world
):
    command, env = push_command(fake, warehouse, "--only", "traits")
    holder: list = []
    fake.after_poll = kill_when(holder, lambda: True)
    holder.append(subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    assert holder[0].wait(60) == -signal.SIGKILL
    fake.after_poll = None
    before = len(fake.requests)
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert finished.returncode == 0, finished.stderr
    # Resumed by polling the same async action; nothing sent again.
    assert {(m, path) for m, path, *_ in fake.requests[before:]} == {("GET", "/v1/async-actions/aa_000001")}
    assert len(fake.metadata_updates) == len(truth_members(built_world))
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0 and len(bulk_requests(fake)) == 1


def test_two_pushes_at_once_are_refused(fake, warehouse):
    from ingest.locks import exclusive_lock
    from loyalty.push.log import push_lock_path_for

    with (
        exclusive_lock(push_lock_path_for(warehouse)),
        pytest.raises(LoyaltyError, match="another `loyalty push`") as e,
    ):
        run_push(fake, warehouse)
    assert e.value.exit_code == 4 and fake.requests == []


def test_the_app_token_is_never_printed_or_logged(fake, warehouse, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    fake.fail("POST", "/v1/publications", 503)
    console = Console(record=True, width=200)
    run_push(fake, warehouse, console=console)
    captured = capfd.readouterr()
    everything = caplog.text + captured.out + captured.err + console.export_text()
    everything += push_log_path_for(warehouse).read_text()
    assert "HTTP Request: POST" in caplog.text
    assert fake.app_token not in everything and "SECRET" not in everything


def test_clear_errors_for_missing_credentials_warehouse_or_marts(fake, tmp_path):
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(LoyaltyError, match="credentials missing"):
        push(empty, base_url=fake.url, app_id=None, app_token=None)
    with pytest.raises(LoyaltyError, match="no warehouse at"):
        run_push(fake, tmp_path / "missing.duckdb")
    with pytest.raises(LoyaltyError, match="has no marts.activation_member_traits"):
        run_push(fake, empty)
    assert fake.requests == []


# ── scheduling and the log in the warehouse ─────────────────────────────────────────────────────
def test_run_push_pushes_after_a_publish_never_after_a_failure_and_builds_carry_the_log(fake, landing_copy, tmp_path):
    warehouse = tmp_path / "wh" / "warehouse.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
    env |= {
        "LOYALTY_VOUCHERIFY_APP_ID": fake.app_id,
        "LOYALTY_VOUCHERIFY_APP_TOKEN": fake.app_token,
        "LOYALTY_VOUCHERIFY_BASE_URL": fake.url,
    }

    def run(landing: Path) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "loyalty.cli", "run", "--landing", str(landing), "--warehouse", str(warehouse)]
        return subprocess.run([*command, "--push", "--json"], env=env, capture_output=True, text=True, timeout=300)

    failed = run(tmp_path / "no-such-landing")
    assert failed.returncode == 1 and fake.requests == [] and not push_log_path_for(warehouse).exists()

    first = run(landing_copy)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["outcome"] == "succeeded"  # stdout stays the run record alone
    members = truth_members_of(landing_copy)
    assert set(fake.customers) == members and len(fake.publications) > 0
    # A push that was killed (its pid is gone) before the next run: folded as crashed.
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = PushRecord.begin(False, "all")
    killed.pid = int(dead.stdout)
    log = PushLog(push_log_path_for(warehouse), 10**6)
    log.push(killed)
    log.close()

    requests_before = len(fake.requests)
    second = run(landing_copy)
    assert second.returncode == 0, second.stderr
    assert [r for r in fake.requests[requests_before:] if r[0] == "POST"] == []  # nothing new to send
    with duckdb.connect(str(warehouse), read_only=True) as con:
        runs = con.execute("select outcome, traits_updated, rewards_published from ops.push_runs order by started_at")
        assert runs.fetchall() == [("succeeded", len(members), len(fake.publications)), ("crashed", 0, 0)]
        logged = con.execute(
            "select count(*) filter (where kind = 'traits' and status = 'updated'), "
            "count(*) filter (where kind = 'reward' and status = 'published') from ops.push_log"
        ).fetchone()
    assert logged == (len(members), len(fake.publications))


def truth_members_of(landing: Path) -> set[str]:
    with (landing / "ground_truth" / "members.csv").open(encoding="utf-8") as handle:
        return {row["customer_source_id"] for row in csv.DictReader(handle)}
