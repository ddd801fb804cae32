"""The synthetic world: deterministic, every real format and variant present, and a ground truth that a correct
parser can reproduce from the landing files alone."""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from loyalty.errors import LoyaltyError
from loyalty.generate import generate_world
from loyalty.generate.catalog import REDEMPTION_FAILURE_CODES, ROLLBACK_FAILURE

REPO_ROOT = Path(__file__).resolve().parents[1]
END = date(2026, 11, 25)


def tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def read_csv(path: Path) -> list[dict]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def truth(landing: Path, name: str) -> list[dict]:
    return read_csv(landing / "ground_truth" / name)


def webhook_bodies(landing: Path) -> tuple[list[dict], int]:
    """Every delivery in the landing folder, parsed like an ingest would; returns (bodies, malformed records)."""
    bodies, bad = [], 0
    for path in sorted((landing / "voucherify" / "webhooks").rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".json":
            bodies.append(json.loads(path.read_text()))
            continue
        raw = path.read_bytes()
        text = gzip.decompress(raw).decode() if raw[:2] == b"\x1f\x8b" else raw.decode()
        for line in text.splitlines():
            try:
                bodies.append(json.loads(line))
            except json.JSONDecodeError:
                bad += 1
    return bodies, bad


def event_type(body: dict) -> str:
    return (body.get("event") or {}).get("type") or body["type"]


# ---------------------------------------------------------------------------------------------------------------


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate_world(a, customers=40, days=15, seed=3, end_date=END)
    generate_world(b, customers=40, days=15, seed=3, end_date=END)
    generate_world(c, customers=40, days=15, seed=4, end_date=END)
    assert tree_digest(a) == tree_digest(b)
    digest_c = tree_digest(c)
    assert (a / "ground_truth" / "redemptions.csv").read_bytes() != (
        c / "ground_truth" / "redemptions.csv"
    ).read_bytes()
    assert tree_digest(a) != digest_c


def test_hash_seed_does_not_change_the_output(tmp_path):
    """Set iteration order must never leak into the files."""
    script = (
        "import sys; from pathlib import Path; from datetime import date; from loyalty.generate import generate_world;"
        "generate_world(Path(sys.argv[1]), 30, 10, 5, end_date=date(2026, 11, 25))"
    )
    for name, hash_seed in (("x", "1"), ("y", "2")):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        subprocess.run([sys.executable, "-c", script, str(tmp_path / name)], check=True, env=env, cwd=REPO_ROOT)
    assert tree_digest(tmp_path / "x") == tree_digest(tmp_path / "y")


def test_every_landing_format_and_variant_is_present(generated_landing):
    wh = generated_landing / "voucherify" / "webhooks"
    names = [p.relative_to(wh).as_posix() for p in wh.rglob("*") if p.is_file()]
    assert any(n.startswith("project/") and n.endswith(".ndjson") for n in names)
    assert any(n.startswith("project/") and n.endswith(".ndjson.gz") for n in names)
    assert any(n.startswith("distribution/") for n in names)
    assert any(n.startswith("legacy/") for n in names)
    assert any(n.endswith(".json") for n in names)
    bodies, _ = webhook_bodies(generated_landing)
    envelopes = {("v2018" if b.get("object") == "event" else (b.get("source") or {}).get("object")) for b in bodies}
    assert envelopes == {"v2018", "webhook", "distribution"}
    distribution_types = {b["type"] for b in bodies if (b.get("source") or {}).get("object") == "distribution"}
    assert all(t.startswith("Loyalty notify ") for t in distribution_types)
    kinds = {event_type(b) for b in bodies}
    for kind in (
        "redemption.succeeded",
        "redemption.failed",
        "redemption.rollback.succeeded",
        "redemption.rollback.failed",
        "publication.succeeded",
        "voucher.published",
        "customer.publication.succeeded",
        "voucher.loyalty_card.transaction.created",
        "voucher.loyalty_card.points_added",
        "voucher.loyalty_card.points_expired",
        "customer.order.created",
        "customer.order.paid",
        "customer.order.canceled",
        "customer.loyalty.tier.joined",
        "customer.loyalty.tier.upgraded",
        "customer.loyalty.tier.left",
        "customer.voucher.loyalty_card.points_aded",
        "customer.rewarded.loyalty_points",
    ):
        assert kind in kinds, kind
    # Orders and tiers come only through distributions.
    for b in bodies:
        if event_type(b).startswith(("customer.order.", "customer.loyalty.tier.")):
            assert b["source"]["object"] == "distribution"
    # Duplicate deliveries: same (event.id, source.id) more than once.
    keys = [(b["event"]["id"], b["source"]["id"]) for b in bodies if "event" in b]
    assert len(keys) > len(set(keys))
    statuses = json.dumps(
        [b["data"].get("redemption") for b in bodies if event_type(b) == "redemption.rollback.failed"]
    )
    assert '"ROLLED BACK"' in statuses
    legacy = [b["data"]["object"] for b in bodies if b.get("object") == "event"]
    assert legacy and all(obj["status"] is None for obj in legacy if obj["object"] == "redemption")

    exports = generated_landing / "voucherify" / "exports"
    for obj in ("redemption", "voucher_transactions", "order", "customer", "publication"):
        files = sorted((exports / obj).glob("*.csv"))
        assert len(files) >= 2, obj
    headers = {f.read_text().splitlines()[0] for f in (exports / "customer").glob("*.csv")}
    assert any("Customer Source Id" in h or "Source Id" in h for h in headers)
    assert any(h.startswith("id,") for h in headers)
    order_header = (sorted((exports / "order").glob("*.csv"))[0]).read_text().splitlines()[0]
    assert "metadata.location_id" in order_header

    seg = generated_landing / "segment"
    for rel in (
        "warehouse/pos/order_placed",
        "warehouse/pos/identifies.csv",
        "warehouse/mobile_app/order_completed",
        "warehouse/mobile_app/identifies",
        "warehouse/web/pages",
        "warehouse/voucherify/customer_redemption_succeeded",
        "warehouse/voucherify/customer_redemption_failed",
        "warehouse/voucherify/tracks.csv",
        "archive/prod-bucket/segment-logs/dummy-object.txt",
    ):
        assert (seg / rel).exists(), rel
    assert list((seg / "warehouse" / "web").rglob("*.parquet"))
    day_dirs = [p for p in (seg / "archive").rglob("*") if p.is_dir() and p.name.isdigit()]
    assert day_dirs and all(len(p.name) == 13 and int(p.name) % 86_400_000 == 0 for p in day_dirs)
    gz_files = list((seg / "archive").rglob("*.gz"))
    assert any(f.read_bytes()[:2] != b"\x1f\x8b" for f in gz_files), "an archive stored uncompressed"
    # Warehouse rows and archive messages overlap on message id.
    archive_ids = set()
    for f in gz_files:
        raw = f.read_bytes()
        try:
            text = gzip.decompress(raw).decode() if raw[:2] == b"\x1f\x8b" else raw.decode()
        except EOFError:
            continue
        archive_ids.update(json.loads(line)["messageId"] for line in text.splitlines())
    warehouse_ids = set()
    for f in (seg / "warehouse").rglob("*.csv"):
        warehouse_ids.update(r["id"] for r in read_csv(f) if "id" in r)
    assert archive_ids & warehouse_ids


def test_segment_schema_drift_and_messy_values(generated_landing):
    warehouse = generated_landing / "segment" / "warehouse"
    placed = sorted((warehouse / "pos" / "order_placed").glob("*.csv"))
    headers = [f.read_text().splitlines()[0].split(",") for f in placed]
    assert "load_batch" not in headers[0] and any("load_batch" in h for h in headers[1:]), "a column added later"
    quantities = []
    for f in sorted((warehouse / "mobile_app" / "order_completed").glob("*.csv")):
        quantities += [r["quantity_total"] for r in read_csv(f)]
    for f in sorted((warehouse / "web" / "order_completed").glob("*.parquet")):
        quantities += [str(v) for v in pq.read_table(f).column("quantity_total").to_pylist()]
    for f in sorted((warehouse / "voucherify" / "customer_redemption_succeeded").glob("*.csv")):
        quantities += [r["order_amount"] for r in read_csv(f) if r.get("order_amount")]
    assert any("." in q for q in quantities) and any("." not in q for q in quantities), "int → float drift"
    rows = [r for f in sorted((warehouse / "mobile_app" / "order_completed").glob("*.csv")) for r in read_csv(f)]
    assert any(r["revenue"] and r["products"].startswith("[") for r in rows)


def test_every_failure_code_occurs(generated_landing):
    bodies, _ = webhook_bodies(generated_landing)
    codes = set()
    for b in bodies:
        data = b["data"]
        for key in ("redemption", "redemption_rollback", "object"):
            obj = data.get(key)
            if isinstance(obj, dict) and obj.get("failure_code"):
                codes.add(obj["failure_code"])
    assert set(REDEMPTION_FAILURE_CODES) | {ROLLBACK_FAILURE[0]} <= codes
    truth_codes = {r["failure_code"] for r in truth(generated_landing, "redemptions.csv") if r["failure_code"]}
    assert truth_codes == set(REDEMPTION_FAILURE_CODES)


def test_ground_truth_is_self_consistent(generated_landing):
    summary = json.loads((generated_landing / "ground_truth" / "summary.json").read_text())
    ledger = truth(generated_landing, "loyalty_points.csv")
    members = {m["customer_source_id"]: m for m in truth(generated_landing, "members.csv")}
    orders = {o["order_id"]: o for o in truth(generated_landing, "orders.csv")}
    redemptions = truth(generated_landing, "redemptions.csv")

    sums, last_balance = defaultdict(int), {}
    earned_by_order = defaultdict(int)
    for row in sorted(ledger, key=lambda r: (r["occurred_at"], r["transaction_id"])):
        sums[row["customer_source_id"]] += int(row["points"])
        # Each card's balance after every transaction is the running sum in time order (no history before).
        assert sums[row["customer_source_id"]] == int(row["balance_after"]), row
        last_balance[row["customer_source_id"]] = int(row["balance_after"])
        if row["movement"] in ("earned", "adjusted") and row["order_id"]:
            earned_by_order[row["order_id"]] += int(row["points"])  # net of what a return took back
        assert row["customer_source_id"] in members
    for sid, m in members.items():
        assert int(m["points_balance"]) == sums[sid] == last_balance.get(sid, 0)
        assert int(m["points_balance"]) >= 0
    for oid, o in orders.items():
        assert int(o["points_earned"]) == earned_by_order[oid]
        assert Decimal(o["total_amount"]) == Decimal(o["amount"]) - Decimal(o["discount_amount"])
    # Transfers pair up and net to zero.
    transfers = [r for r in ledger if r["movement"] == "transferred"]
    assert transfers and sum(int(r["points"]) for r in transfers) == 0

    for r in redemptions:
        assert (r["result"] == "FAILURE") == (r["status"] == "FAILED")
        assert bool(r["rolled_back_at"]) == (r["status"] == "ROLLED_BACK")
        if r["result"] == "FAILURE":
            assert Decimal(r["discount_amount"]) == 0
        if r["order_id"]:
            assert r["location_id"] == orders[r["order_id"]]["location_id"]
    assert summary["redemptions"]["rows"] == len(redemptions)
    assert summary["orders"]["rows"] == len(orders)
    assert summary["loyalty_points"]["rows"] == len(ledger)
    assert summary["world"]["members"] == len(members)
    by_status = defaultdict(int)
    for r in redemptions:
        by_status[r["status"]] += 1
    assert summary["redemptions"]["by_status"] == dict(by_status)
    for o in orders.values():
        assert (o["is_paid"] == "true") == (o["status"] in ("PAID", "FULFILLED"))
    paid = [o for o in orders.values() if o["is_paid"] == "true"]
    assert Decimal(summary["orders"]["revenue"]) == sum(Decimal(o["total_amount"]) for o in paid)

    recon = truth(generated_landing, "reconciliation.csv")
    differing = [r for r in recon if Decimal(r["difference"]) != 0]
    assert differing and len(differing) == summary["reconciliation"]["differing_rows"]
    for r in recon:
        assert Decimal(r["difference"]) == Decimal(r["warehouse_value"]) - Decimal(r["voucherify_value"])


# The documented tier bands (docs/generator.md), written out here so the check does not reuse the generator's catalog.
TIER_FLOORS = (("Gold", 600), ("Silver", 200), ("Bronze", 0))


def tier_for(balance: int) -> str:
    return next(name for name, floor in TIER_FLOORS if balance >= floor)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_balances_and_tiers_follow_the_ledger_in_time_order(tmp_path, seed):
    """Every card transaction is stamped at the moment it changed the balance, on every path (returns, expiry
    batches, refunds, transfers, pending activations): ordered by (occurred_at, transaction_id), each balance_after
    is the running sum of points, and each upgrade/downgrade names the tier of the balance at that moment.
    3,000 customers so the rare paths (a card touched twice within seconds) occur."""
    generate_world(tmp_path, customers=3000, days=60, seed=seed, end_date=END)
    ledger = sorted(truth(tmp_path, "loyalty_points.csv"), key=lambda r: (r["occurred_at"], r["transaction_id"]))
    running, broken = defaultdict(int), []
    history = defaultdict(list)  # customer -> [(occurred_at, balance after)]
    types = set()
    for row in ledger:
        running[row["voucher_id"]] += int(row["points"])
        if running[row["voucher_id"]] != int(row["balance_after"]):
            broken.append(row)
        history[row["customer_source_id"]].append((row["occurred_at"], running[row["voucher_id"]]))
        types.add(row["transaction_type"])
    assert not broken, f"{len(broken)} of {len(ledger)} rows do not chain, first: {broken[0]}"
    assert {
        "POINTS_ACCRUAL",
        "POINTS_REDEMPTION",
        "POINTS_REFUND",
        "POINTS_EXPIRATION",
        "POINTS_REMOVAL",
        "POINTS_ADDITION",
        "POINTS_TRANSFER_OUT",
        "POINTS_TRANSFER_IN",
        "PENDING_POINTS_ACTIVATION",
    } <= types

    wrong_tier = []
    moves = [t for t in truth(tmp_path, "tier_changes.csv") if t["change_type"] in ("upgraded", "downgraded")]
    for move in moves:
        before = [bal for at, bal in history[move["customer_source_id"]] if at < move["changed_at"]]
        upto = [bal for at, bal in history[move["customer_source_id"]] if at <= move["changed_at"]]
        possible = {tier_for(before[-1] if before else 0), tier_for(upto[-1] if upto else 0)}
        if move["tier_to"] not in possible:
            wrong_tier.append(move)
    assert moves and not wrong_tier, (
        f"{len(wrong_tier)} of {len(moves)} tier moves disagree with the ledger: {wrong_tier[:1]}"
    )


def test_orders_inside_redemptions_are_as_they_stood_at_the_redemption(generated_landing):
    """A redemption of an order happens at checkout: the copy inside it is the created, not yet paid order, and
    that order already existed when the redemption was made."""
    copies = 0
    for body in webhook_bodies(generated_landing)[0]:
        data = body.get("data") or {}
        for redemption in (data.get("redemption"), data.get("object")):
            if not isinstance(redemption, dict) or not redemption.get("order"):
                continue
            order = redemption["order"]
            assert order["status"] == "CREATED", redemption["id"]
            assert order.get("updated_at", order["created_at"]) == order["created_at"], redemption["id"]
            assert order["created_at"] <= redemption["date"], redemption["id"]
            copies += 1
    assert copies


def test_ground_truth_is_reproducible_from_the_landing_files(generated_landing):
    """A minimal correct parser over the webhooks agrees with the ground truth on ids, statuses and points."""
    bodies, malformed = webhook_bodies(generated_landing)
    summary = json.loads((generated_landing / "ground_truth" / "summary.json").read_text())
    assert malformed == summary["expected_rejections"]["voucherify_webhooks"]

    latest_order: dict[str, tuple] = {}
    redemption_ids, parents, rolled_back, transactions = set(), set(), {}, {}

    def parent_of(r: dict) -> None:
        # a stack parent is named by a child, or names itself and succeeded (a failed one is a failed attempt)
        if r.get("redemption"):
            parents.add(r["redemption"])
        if r.get("related_object_type") == "redemption" and r.get("result") == "SUCCESS":
            parents.add(r["id"])

    for b in bodies:
        kind, data = event_type(b), b["data"]
        if b.get("object") == "event":
            obj = data["object"]
            if obj["object"] == "redemption":
                redemption_ids.add(obj["id"])
                parent_of(obj)
            elif obj["result"] == "SUCCESS":
                rolled_back[obj["redemption"]] = obj["date"]
            continue
        if kind.startswith("customer.order."):
            o = data["order"]
            # the order's version (updated_at, absent on an order never updated), then the latest event
            key = (o.get("updated_at") or o["created_at"], b["event"]["created_at"])
            if o["id"] not in latest_order or key > latest_order[o["id"]][0]:
                latest_order[o["id"]] = (key, o["status"], o)
        if kind in ("redemption.succeeded", "redemption.failed"):
            r = data["redemption"]
            redemption_ids.add(r["id"])
            parent_of(r)
        if kind == "redemption.rollback.succeeded":
            rolled_back[data["redemption_rollback"]["redemption"]] = data["redemption_rollback"]["date"]
        if kind == "voucher.loyalty_card.transaction.created":
            tx = data["transaction"]
            transactions[tx["id"]] = tx["details"]["balance"]["points"]

    orders = {o["order_id"]: o for o in truth(generated_landing, "orders.csv")}
    assert set(latest_order) == set(orders)
    for oid, (_, status, o) in latest_order.items():
        assert status == orders[oid]["status"], oid
        assert Decimal(o["amount"]) / 100 == Decimal(orders[oid]["amount"])
        parts = o.get("discount_amount", 0) + o.get("items_discount_amount", 0)
        assert Decimal(o.get("total_discount_amount", parts)) / 100 == Decimal(orders[oid]["discount_amount"])

    # A few redemptions never reach the webhooks: the export lists them too.
    for f in (generated_landing / "voucherify" / "exports" / "redemption").glob("*.csv"):
        rows = list(csv.reader(f.open(newline="", encoding="utf-8")))
        redemption_ids.update(row[0] for row in rows[1:] if len(row) == len(rows[0]))
    redemptions = {r["redemption_id"]: r for r in truth(generated_landing, "redemptions.csv")}
    assert redemption_ids - parents == set(redemptions)
    assert {rid for rid, r in redemptions.items() if r["status"] == "ROLLED_BACK"} == set(rolled_back)

    ledger = {r["transaction_id"]: int(r["points"]) for r in truth(generated_landing, "loyalty_points.csv")}
    assert transactions == ledger

    # Location: order metadata, else the POS "Order placed" event's localisation, else (a POS replacement order)
    # the location of the order it replaces.
    placed = {}
    for f in (generated_landing / "segment" / "warehouse" / "pos" / "order_placed").glob("*.csv"):
        placed.update({r["voucherify_order_id"]: r["localisation"] for r in read_csv(f)})

    def own_location(order: dict) -> str | None:
        meta = order["metadata"]
        return meta.get("location_id") or meta.get("location") or placed.get(order["id"])

    for oid, (_, _, o) in latest_order.items():
        origin = o["metadata"].get("originOrderId")
        location = own_location(o) or (own_location(latest_order[origin][2]) if origin else None)
        assert location == orders[oid]["location_id"], oid
        assert (origin or "") == orders[oid]["origin_order_id"], oid


def test_exports_carry_one_malformed_row_and_overlap(generated_landing):
    files = sorted((generated_landing / "voucherify" / "exports" / "redemption").glob("*.csv"))
    bad, seen, overlap = 0, set(), 0
    for f in files:
        rows = list(csv.reader(f.open(newline="", encoding="utf-8")))
        width = len(rows[0])
        for row in rows[1:]:
            if len(row) != width:
                bad += 1
                continue
            overlap += row[0] in seen
            seen.add(row[0])
    summary = json.loads((generated_landing / "ground_truth" / "summary.json").read_text())
    assert bad == summary["expected_rejections"]["voucherify_exports"] == 1
    assert overlap > 0


def test_default_world_is_quick_and_cli_prints_a_summary(tmp_path):
    out = tmp_path / "world"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "loyalty.cli",
            "generate",
            "--out",
            str(out),
            "--customers",
            "60",
            "--days",
            "14",
            "--seed",
            "9",
            "--end-date",
            "2026-11-25",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=dict(os.environ, COLUMNS="200"),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "webhook deliveries" in result.stdout
    assert json.loads((out / "ground_truth" / "summary.json").read_text())["world"]["end"] == "2026-11-25T00:00:00.000Z"


def test_cli_help_and_bad_end_date(tmp_path):
    env = dict(os.environ, COLUMNS="200")
    help_text = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "generate", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
    ).stdout
    assert "--end-date" in help_text and "--customers" in help_text
    bad = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "generate", "--out", str(tmp_path / "w"), "--end-date", "yesterday"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
    )
    assert bad.returncode != 0 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr


def test_never_overwrites_landing_data_it_did_not_write(tmp_path):
    landing = tmp_path / "landing"
    (landing / "voucherify" / "webhooks").mkdir(parents=True)
    real = landing / "voucherify" / "webhooks" / "received.ndjson"
    real.write_text("{}\n")
    with pytest.raises(LoyaltyError, match="did not write"):
        generate_world(landing, customers=10, days=3, seed=1, end_date=END)
    assert real.exists()
    # A folder it generated itself is simply regenerated.
    other = tmp_path / "world"
    generate_world(other, customers=10, days=3, seed=1, end_date=END)
    generate_world(other, customers=10, days=3, seed=2, end_date=END)
    assert json.loads((other / "ground_truth" / "summary.json").read_text())["world"]["customers"] == 10
