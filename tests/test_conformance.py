"""Conformance: payloads in the vendors' real shapes land whole and right.

tests/fixtures/conformance/landing/ is our own corpus, written from Voucherify's API reference (webhook, redemption,
export and publication objects), Segment's documentation of the Voucherify source (both generations) and warehouse
flattening, and the Loyalty Accelerator POS and mobile apps' calls. Every figure below was computed by hand from
those files; each test names the issue-11 defect it covers.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.mart_compare import build_corpus

CORPUS = Path(__file__).resolve().parent / "fixtures" / "conformance" / "landing"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return build_corpus(CORPUS, tmp_path_factory.mktemp("conformance"))


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def by_key(warehouse: Path, sql: str) -> dict:
    return {row[0]: row[1:] for row in rows(warehouse, sql)}


def test_every_record_lands_and_none_is_rejected(warehouse):
    assert rows(warehouse, "select count(*) from raw.rejected_records") == [(0,)]
    assert rows(warehouse, "select count(*) from raw.voucherify_webhooks") == [(20,)]
    # exports: 2 + 1 publication rows, 1 voucher, 1 customer (none of them has an id column)
    assert rows(warehouse, "select exported_object, count(*) from raw.voucherify_exports group by 1 order by 1") == [
        ("customer", 1),
        ("publication", 3),
        ("voucher", 1),
    ]


def test_publication_exports_are_keyed_by_what_they_carry(warehouse):
    """Defect 1: the publication export has no id. Its default-field row of Jane's card is the webhook's publication
    (same code, customer and time); rows no other channel names are publications of their own."""
    pubs = by_key(
        warehouse,
        "select publication_id, voucher_code, customer_source_id, campaign_name, channel from marts.fct_publications",
    )
    assert pubs["pub_ConfJaneCard0000000000000001"] == ("JANECARD", "conf-jane", "Conf Loyalty", "Automation")
    assert pubs["export:CONF-EXPORT-TWO:conf-bob:1735992000000"] == (
        "CONF-EXPORT-TWO",
        "conf-bob",
        "Conf Welcome",
        "API",
    )
    assert pubs["export:CONF-EXPORT-ONLY:conf-bob:1735902000000"][:2] == ("CONF-EXPORT-ONLY", "conf-bob")
    assert len(pubs) == 4  # + the one seen only through Event Cloud
    keys = rows(
        warehouse, "select record_id from raw.voucherify_exports where exported_object <> 'publication' order by 1"
    )
    assert keys == [("CONF-EXPORT-ONLY",), ("conf-bob",)]  # the voucher by code, the customer by source_id


def test_discounts_follow_the_vendors_fields_and_precedence(warehouse):
    """Defect 2: item-level only (items_applied + total_applied = 10.00), stack children's own applied amounts
    (5.00 order-level; 3.00 item-level), not the order's whole 8.00."""
    discounts = by_key(warehouse, "select redemption_id, discount_amount from marts.fct_redemptions")
    assert discounts["r_conf_items"] == (Decimal("10.00"),)
    assert discounts["r_conf_child_v"] == (Decimal("5.00"),)
    assert discounts["r_conf_child_p"] == (Decimal("3.00"),)
    orders = by_key(warehouse, "select order_id, amount, discount_amount, total_amount from marts.fct_orders")
    assert orders["ord_ConfItems00000000000001"] == (Decimal("70.00"), Decimal("10.00"), Decimal("60.00"))
    campaigns = by_key(
        warehouse,
        "select campaign_name, sum(discount_given), sum(revenue) from marts.fct_campaign_performance group by 1",
    )
    # Mug Deals: 10.00 (webhook) + 7.00 (Event Cloud, first generation); revenue of the one paid order behind them
    assert campaigns["Mug Deals"] == (Decimal("17.00"), Decimal("60.00"))
    # Conf Welcome: 5.00 (stack child) + 4.50 (Event Cloud); the stack's order total once
    assert campaigns["Conf Welcome"] == (Decimal("9.50"), Decimal("92.00"))


def test_event_cloud_in_both_generations(warehouse):
    """Defect 3: a redemption seen only through "Customer Redemption Succeeded" (flattened prefixes) and one only
    through "Redemption succeeded" (one voucherifyEvent), and a publication seen only through Event Cloud."""
    found = by_key(
        warehouse,
        "select redemption_id, cast(redeemed_at as varchar), customer_source_id, voucher_code, campaign_name, "
        "discount_amount, location_id from marts.fct_redemptions where redemption_id like 'r_conf_ec%'",
    )
    assert found["r_conf_ec_new"] == (
        "2025-01-16 10:00:00+00",
        "conf-bob",
        "CONF-EC-1",
        "Conf Welcome",
        Decimal("4.50"),
        "Lima",
    )
    assert found["r_conf_ec_old"] == (
        "2025-01-17 10:00:00+00",
        "conf-jane",
        "CONF-EC-2",
        "Mug Deals",
        Decimal("7.00"),
        "Paris",
    )
    pub = by_key(
        warehouse,
        "select publication_id, cast(published_at as varchar), voucher_code, campaign_name from marts.fct_publications",
    )
    assert pub["pub_ConfEventCloud00000000000001"] == ("2025-01-18 10:00:00+00", "CONF-EC-PUB", "Conf Welcome")


def test_failed_attempts_count_once_with_their_code_and_place(warehouse):
    """Defects 4 and 5: a failed stack attempt (related_object_type redemption, no children, no customer) is one
    failure; failures without an order are located by the redemption's metadata; stack parents are not rows."""
    found = by_key(
        warehouse,
        "select redemption_id, status, failure_code, location_id from marts.fct_redemptions where result = 'FAILURE'",
    )
    assert found == {
        "rf_conf_notfound": ("FAILED", "not_found", None),
        "rf_conf_disabled": ("FAILED", "voucher_disabled", "Vancouver"),
        "rf_conf_expired": ("FAILED", "voucher_expired", "New York"),
    }
    assert not rows(warehouse, "select 1 from marts.fct_redemptions where redemption_id = 'r_conf_parent'")
    failed = by_key(
        warehouse,
        "select location_id, sum(redemptions_failed) from marts.agg_location_daily "
        "where redemptions_failed > 0 group by 1",
    )
    assert failed == {None: (1,), "Vancouver": (1,), "New York": (1,)}


def test_pos_return_links_removal_replacement_and_points(warehouse):
    """Defect 6: the POS's return. The removal names the order only in its reason; the original is CANCELED and
    earns 50 − 50 = 0 points; the replacement (metadata.originOrderId) is PAID, in the original's store (the
    original's "Order placed"), and earns 30; revenue counts the replacement only; the ledger sums to 30."""
    orders = by_key(
        warehouse,
        "select order_id, status, is_paid, location_id, origin_order_id, total_amount, points_earned "
        "from marts.fct_orders",
    )
    assert orders["ord_ConfReturn00000000001"] == ("CANCELED", False, "London", None, Decimal("50.00"), 0)
    assert orders["ord_ConfReturn00000000002"] == (
        "PAID",
        True,
        "London",
        "ord_ConfReturn00000000001",
        Decimal("30.00"),
        30,
    )
    removal = by_key(warehouse, "select transaction_id, order_id, location_id, movement from marts.fct_loyalty_points")
    assert removal["vtx_conf_rem1"] == ("ord_ConfReturn00000000001", "London", "adjusted")
    london = rows(
        warehouse,
        "select cast(day as varchar), paid_orders, revenue from marts.agg_location_daily "
        "where location_id = 'London' and paid_orders > 0",
    )
    assert london == [("2025-01-15", 1, Decimal("30.00"))]
    assert rows(warehouse, "select points_balance from marts.dim_members where customer_source_id = 'conf-jane'") == [
        (30,)
    ]


def test_promotion_tier_campaign_is_named_from_elsewhere(warehouse):
    """Defect 7: the promotion tier's campaign carries an id and no name; campaign.updated names that id."""
    assert rows(
        warehouse, "select campaign_name from marts.fct_redemptions where redemption_id = 'r_conf_child_p'"
    ) == [("Summer Promo",)]


def test_paid_then_canceled_without_updated_at(warehouse):
    """Defect 8: neither copy carries updated_at; the cancel event is the later one and wins."""
    assert rows(
        warehouse, "select status, is_paid from marts.fct_orders where order_id = 'ord_ConfCancel000000000001'"
    ) == [("CANCELED", False)]
    lima = rows(
        warehouse, "select sum(paid_orders), sum(revenue) from marts.agg_location_daily where location_id = 'Lima'"
    )
    assert lima == [(1, Decimal("25.00"))]  # Bob's paid order only


def test_events_with_no_place_before_have_one(warehouse):
    """Defect 9: identify traits on the member, a product trait matched by product id + name (the SKU only on another
    order's line), and rewarded points, reward redemptions and validations as engagement events."""
    member = rows(
        warehouse,
        "select email, first_name, last_name, phone, postal_code, registered_customer, "
        "times_bought_star_thermal_bottle from marts.dim_members where customer_source_id = 'conf-jane'",
    )
    assert member == [("jane@example.org", "Jane", "Conf", "conf-jane", "75001", True, 1)]
    events = by_key(
        warehouse,
        "select event_kind, customer_source_id, points, earning_rule_id, order_id, reward_name, "
        "reward_redemption_state, validation_id from marts.fct_engagement_events",
    )
    # the webhook and the Event Cloud copy of the same award count once
    assert events == {
        "points_rewarded": (
            "conf-jane",
            30,
            "ern_ConfPerUnit0000000001",
            "ord_ConfReturn00000000002",
            None,
            None,
            None,
        ),
        "reward_redemption": ("conf-jane", None, None, None, "Free Mug", "COMPLETED", None),
        "validation_succeeded": ("conf-bob", None, None, None, None, None, "valid_conf_1"),
    }
