"""Every mart equals what the generator meant to happen (its ground truth), row for row and to the cent.

Marts with a ground-truth file are compared with it directly; the two aggregates without one
(agg_location_daily, fct_campaign_performance) are recomputed here from the ground-truth facts, a second,
independent way of getting the same numbers.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

import pytest

from tests.mart_compare import canonical, differences, mart_rows, truth_rows

pytestmark = pytest.mark.slow

TRUTH_FILES = [
    # (mart, ground-truth file, key)
    ("marts.fct_redemptions", "redemptions.csv", ["redemption_id"]),
    ("marts.fct_orders", "orders.csv", ["order_id"]),
    ("marts.fct_loyalty_points", "loyalty_points.csv", ["transaction_id"]),
    ("marts.dim_members", "members.csv", ["customer_source_id"]),
    ("marts.fct_publications", "publications.csv", ["publication_id"]),
    ("marts.reconciliation", "reconciliation.csv", ["customer_source_id", "metric"]),
    ("marts.fct_tier_changes", "tier_changes.csv", ["customer_source_id", "changed_at"]),
    ("marts.fct_points_expiring", "points_expiring.csv", ["customer_source_id", "expires_on"]),
    ("marts.fct_validations", "validations.csv", ["validation_id"]),
    ("marts.agg_member_lift_monthly", "member_lift_monthly.csv", ["month", "location_id"]),
    ("marts.agg_program_daily", "program_daily.csv", ["day"]),
    ("marts.agg_points_cohorts", "points_cohorts.csv", ["earn_month"]),
    ("marts.fct_member_cohorts", "member_cohorts.csv", ["join_month", "months_since_joining"]),
]


@pytest.mark.parametrize("mart, truth_file, key", TRUTH_FILES, ids=[t[0] for t in TRUTH_FILES])
def test_mart_equals_ground_truth(built_world, mart, truth_file, key):
    columns, expected = truth_rows(built_world.truth_dir / truth_file)
    assert expected, f"ground truth {truth_file} is empty: the comparison would prove nothing"
    with built_world.connect() as con:
        actual = mart_rows(con, mart, columns)
    assert differences(expected, actual, key) == []


def test_ground_truth_exercises_the_tricky_cases(built_world):
    """The comparison above only means something if the world contains every kind of fact it is about."""
    _, redemptions = truth_rows(built_world.truth_dir / "redemptions.csv")
    statuses = {r["status"] for r in redemptions}
    assert {"SUCCEEDED", "FAILED", "ROLLED_BACK"} <= statuses
    summary = built_world.summary
    assert summary["redemptions"]["stack_parents"] > 0
    assert summary["deliveries"]["legacy"] > 0 and summary["deliveries"]["duplicates"] > 0
    _, ledger = truth_rows(built_world.truth_dir / "loyalty_points.csv")
    assert {"earned", "burned", "expired", "adjusted", "transferred"} <= {r["movement"] for r in ledger}


def _truth(built_world, name):
    return truth_rows(built_world.truth_dir / name)[1]


def _day(iso: str) -> str:
    return iso[:10]


def test_agg_location_daily_equals_ground_truth(built_world):
    orders = _truth(built_world, "orders.csv")
    redemptions = _truth(built_world, "redemptions.csv")
    ledger = _truth(built_world, "loyalty_points.csv")

    rows: dict[tuple, dict] = defaultdict(
        lambda: {
            "paid_orders": 0,
            "revenue": Decimal(0),
            "customers": set(),
            "member_orders": 0,
            "redemptions_succeeded": 0,
            "redemptions_failed": 0,
            "points_earned": 0,
            "points_burned": 0,
        }
    )
    for o in orders:
        if o["is_paid"] == "true":
            row = rows[(_day(o["ordered_at"]), o["location_id"])]
            row["paid_orders"] += 1
            row["revenue"] += Decimal(o["total_amount"])
            row["customers"].add(o["customer_source_id"])
            row["member_orders"] += o["is_member"] == "true"
    for r in redemptions:
        row = rows[(_day(r["redeemed_at"]), r["location_id"])]
        row["redemptions_succeeded"] += r["status"] == "SUCCEEDED"
        row["redemptions_failed"] += r["status"] == "FAILED"
    for t in ledger:
        row = rows[(_day(t["occurred_at"]), t["location_id"])]
        if t["movement"] == "earned":
            row["points_earned"] += int(t["points"])
        elif t["movement"] == "burned":
            row["points_burned"] -= int(t["points"])
    expected = [
        {
            "day": day,
            "location_id": loc,
            "paid_orders": canonical(v["paid_orders"]),
            "revenue": canonical(v["revenue"]),
            "distinct_customers": canonical(len(v["customers"])),
            "member_orders": canonical(v["member_orders"]),
            "redemptions_succeeded": canonical(v["redemptions_succeeded"]),
            "redemptions_failed": canonical(v["redemptions_failed"]),
            "points_earned": canonical(v["points_earned"]),
            "points_burned": canonical(v["points_burned"]),
        }
        for (day, loc), v in rows.items()
    ]
    with built_world.connect() as con:
        actual = mart_rows(con, "marts.agg_location_daily", list(expected[0]))
    for row in actual:
        row["day"] = row["day"][:10]
    assert differences(expected, actual, ["day", "location_id"]) == []


def test_fct_campaign_performance_equals_ground_truth(built_world):
    publications = _truth(built_world, "publications.csv")
    redemptions = _truth(built_world, "redemptions.csv")
    paid_totals = {
        o["order_id"]: Decimal(o["total_amount"]) for o in _truth(built_world, "orders.csv") if o["is_paid"] == "true"
    }

    converted_at: dict[str, str] = {}
    for r in redemptions:
        if r["status"] in ("SUCCEEDED", "ROLLED_BACK") and r["voucher_code"]:
            code = r["voucher_code"]
            converted_at[code] = min(converted_at.get(code, r["redeemed_at"]), r["redeemed_at"])

    rows: dict[tuple, dict] = defaultdict(
        lambda: {
            "publications": 0,
            "converted": 0,
            "redemptions_succeeded": 0,
            "redemptions_failed": 0,
            "redemptions_rolled_back": 0,
            "discount_given": Decimal(0),
            "orders": {},
        }
    )
    for p in publications:
        if not p["campaign_name"] or p["status"] == "FAILED":  # a failed publication handed out nothing
            continue
        row = rows[(p["campaign_name"], _day(p["published_at"]))]
        row["publications"] += 1
        row["converted"] += (
            converted_at.get(p["voucher_code"], "~") >= p["published_at"] and p["voucher_code"] in converted_at
        )
    for r in redemptions:
        if not r["campaign_name"]:
            continue
        row = rows[(r["campaign_name"], _day(r["redeemed_at"]))]
        key = {
            "SUCCEEDED": "redemptions_succeeded",
            "FAILED": "redemptions_failed",
            "ROLLED_BACK": "redemptions_rolled_back",
        }[r["status"]]
        row[key] += 1
        if r["status"] == "SUCCEEDED":
            row["discount_given"] += Decimal(r["discount_amount"])
            if r["order_id"] in paid_totals:
                row["orders"][r["order_id"]] = paid_totals[r["order_id"]]

    expected, expected_rates = [], {}
    for (campaign, day), v in rows.items():
        expected.append(
            {
                "campaign_name": campaign,
                "day": day,
                "publications": canonical(v["publications"]),
                "redemptions_succeeded": canonical(v["redemptions_succeeded"]),
                "redemptions_failed": canonical(v["redemptions_failed"]),
                "redemptions_rolled_back": canonical(v["redemptions_rolled_back"]),
                "discount_given": canonical(v["discount_given"]),
                "revenue": canonical(sum(v["orders"].values(), Decimal(0))),
            }
        )
        expected_rates[(campaign, day)] = (v["converted"], v["publications"])

    with built_world.connect() as con:
        actual = mart_rows(con, "marts.fct_campaign_performance", list(expected[0]))
        rates = con.execute(
            "select campaign_name, cast(day as varchar), conversion_rate from marts.fct_campaign_performance"
        ).fetchall()
    for row in actual:
        row["day"] = row["day"][:10]
    assert differences(expected, actual, ["campaign_name", "day"]) == []
    assert any(pubs for _, pubs in expected_rates.values())
    for campaign, day, rate in rates:
        converted, pubs = expected_rates[(campaign, day)]
        if pubs == 0:
            assert rate is None, (campaign, day)
        else:
            exact = (Decimal(converted) / Decimal(pubs)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            assert Decimal(rate) == exact, (campaign, day, rate)
