"""Tier movements and points due to expire: the cases the row-for-row ground-truth comparison
(tests/test_marts_truth.py: ground_truth/tier_changes.csv, every tier event of the simulation once, and
points_expiring.csv, the members' unexpired point buckets when the world ends) cannot show on its own.
The vendor's sample tier events check the tiers named in the payload.
"""

from __future__ import annotations

import csv
import gzip
import json
import shutil

import duckdb
import pytest

from loyalty.run import run
from tests.mart_compare import differences, mart_rows, truth_rows

pytestmark = pytest.mark.slow


def test_tier_changes_count_each_event_once_however_often_it_is_delivered(landing_copy, tmp_path):
    """Every tier event delivered a second time (same event id, new delivery id, a later file): still one row."""
    copies = []
    for path in sorted((landing_copy / "voucherify" / "webhooks" / "distribution").glob("*.ndjson*")):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                body = json.loads(line)
                if body["event"]["type"].startswith("customer.loyalty.tier."):
                    copies.append(json.dumps(dict(body, id=body["id"] + "_again")))
    assert copies, "the world has no tier events"
    redeliveries = landing_copy / "voucherify" / "webhooks" / "late" / "tier_redeliveries.ndjson"
    redeliveries.write_text("\n".join(copies) + "\n", encoding="utf-8")
    warehouse = tmp_path / "warehouse.duckdb"
    run(landing_copy, warehouse, full_refresh=False, as_json=False)

    columns, expected = truth_rows(landing_copy / "ground_truth" / "tier_changes.csv")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        delivered = con.execute(
            "select count(*) from raw.voucherify_webhooks where event_type like 'customer.loyalty.tier.%'"
        ).fetchone()[0]
        actual = mart_rows(con, "marts.fct_tier_changes", columns)
    assert delivered >= 2 * len(expected)
    assert differences(expected, actual, ["customer_source_id", "changed_at"]) == []


def test_ground_truth_exercises_every_kind_of_tier_change(built_world):
    _, changes = truth_rows(built_world.truth_dir / "tier_changes.csv")
    kinds = {row["change_type"] for row in changes}
    assert {"joined", "upgraded", "downgraded", "left"} <= kinds
    # Tier movements need both ends where the event names them, and only there.
    for row in changes:
        assert (row["tier_from"] == "") == (row["change_type"] == "joined"), row
        assert (row["tier_to"] == "") == (row["change_type"] == "left"), row


def test_points_expiring_come_from_the_freshest_export_only(built_world):
    """Every unexpired bucket of the latest points_expiration export is counted once, and nothing else: the
    mart's total equals the export file's ACTIVE points, read here with the csv module."""
    exports = sorted((built_world.landing / "voucherify" / "exports" / "points_expiration").glob("*.csv"))
    assert exports, "the world wrote no points_expiration export"
    with exports[-1].open(newline="", encoding="utf-8") as fh:
        total = sum(int(row["points"]) for row in csv.DictReader(fh) if row["status"] == "ACTIVE")
    with built_world.connect() as con:
        shown = con.execute("select sum(points) from marts.fct_points_expiring").fetchone()[0]
    assert total > 0 and shown == total


def test_vendor_sample_tier_events_keep_the_tiers_they_name(sample_webhooks, tmp_path):
    """The vendor's samples name a downgrade's origin (Loyal Star Platinum) that no earlier event of that customer
    mentions: tier_from comes from loyalty_tier_from, not from the customer's previous event."""
    landing = tmp_path / "landing"
    (landing / "voucherify" / "webhooks").mkdir(parents=True)
    shutil.copy(sample_webhooks, landing / "voucherify" / "webhooks" / "samples.ndjson")
    warehouse = tmp_path / "warehouse.duckdb"
    run(landing, warehouse, full_refresh=False, as_json=False)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select customer_source_id, change_type, tier_from, tier_to from marts.fct_tier_changes order by changed_at"
        ).fetchall()
    assert rows == [
        ("4l3x-d03", "upgraded", "Loyal silver", "Loyal gold"),
        ("4lx-d03", "joined", None, "Loyal silver"),
        ("4lx-d03", "left", "Loyal gold", None),
        ("4lx-d03", "downgraded", "Loyal Star Platinum", "Loyal silver"),
        ("jn-gn", "prolonged", "Tier-01", "Tier-01"),
    ]
