"""Program economics on payloads in the vendors' real shapes (issue 15).

tests/fixtures/economics/landing/ is our own small corpus, written from Voucherify's API reference — the
pay-with-points (COIN) reward in a redemption (`reward.type`, `parameters.coin.exchange_ratio` / `points_ratio`),
a transaction's `details.earning_rule` {id, source.banner} and `details.reward` {id, name}, the validation object
(`redeemables`, `inapplicable_redeemables`), a failed publication (`result` FAILURE, `failure_code`), a tier join
— and from Segment's documentation of the Voucherify source in both generations ("Customer Validation Succeeded"
flattened with the array as JSON text; "Publication failed" with one voucherifyEvent). Every figure below was
worked out by hand from those files.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from tests.mart_compare import build_corpus

CORPUS = Path(__file__).resolve().parent / "fixtures" / "economics" / "landing"
UTC = dt.UTC


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    return build_corpus(CORPUS, tmp_path_factory.mktemp("economics"))


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql).fetchall()


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_everything_lands(warehouse):
    assert rows(warehouse, "select count(*) from raw.rejected_records") == [(0,)]
    assert rows(warehouse, "select count(*) from raw.voucherify_webhooks") == [(9,)]


def test_a_member_joins_at_the_tier_join_when_it_comes_before_the_cards_publication(warehouse):
    assert rows(warehouse, "select customer_source_id, joined_at from marts.dim_members") == [
        ("econ-ann", at("2025-03-03 09:00:00"))
    ]
    assert rows(
        warehouse, "select order_id, is_member, is_member_at_order from marts.fct_orders where is_paid order by 1"
    ) == [("ord_EconAfter0000000001", True, True), ("ord_EconBefore000000001", True, False)]


def test_ledger_rows_name_their_earning_rule_and_reward(warehouse):
    assert rows(
        warehouse,
        "select transaction_id, earning_rule_id, earning_rule_name, reward_id, reward_name "
        "from marts.fct_loyalty_points order by 1",
    ) == [
        ("vtx_econ_accrual", "ern_EconPerUnit0000000001", "Econ: 1 point per unit", None, None),
        ("vtx_econ_points", None, None, "rew_EconPayWithPoints000001", "100 points = 5.00"),
    ]


def test_a_point_is_worth_the_pay_with_points_rewards_exchange_ratio(warehouse):
    """exchange_ratio 5 currency units per points_ratio 100 points: 0.05 a point; 100 points left on 6 March."""
    days = rows(
        warehouse,
        "select cast(day as varchar), members, active_members, active_member_rate, outstanding_points, point_value, "
        "point_value_source, liability_amount from marts.agg_program_daily order by day",
    )
    value, source = Decimal("0.050000"), "pay_with_points_reward"
    assert days == [
        ("2025-03-02", 0, 0, None, 0, value, source, Decimal("0.00")),
        ("2025-03-03", 1, 1, Decimal("1.0000"), 0, value, source, Decimal("0.00")),
        ("2025-03-04", 1, 1, Decimal("1.0000"), 300, value, source, Decimal("15.00")),
        ("2025-03-05", 1, 1, Decimal("1.0000"), 300, value, source, Decimal("15.00")),
        ("2025-03-06", 1, 1, Decimal("1.0000"), 100, value, source, Decimal("5.00")),
    ]


def test_cohorts_lift_and_member_economics(warehouse):
    assert rows(warehouse, "select * exclude (earn_month) from marts.agg_points_cohorts") == [
        (300, 200, 0, 0, 100, False, Decimal("0.6667"), None)  # March is not over: no breakage yet
    ]
    assert rows(
        warehouse,
        "select location_id, member_paid_orders, aov_member, nonmember_paid_orders, aov_nonmember, aov_lift "
        "from marts.agg_member_lift_monthly order by location_id nulls first",
    ) == [
        (None, 1, Decimal("300.00"), 1, Decimal("30.00"), Decimal("9.0000")),
        ("Paris", 1, Decimal("300.00"), 1, Decimal("30.00"), Decimal("9.0000")),
    ]
    assert rows(warehouse, "select * exclude (join_month, months_since_joining) from marts.fct_member_cohorts") == [
        (1, 1, Decimal("300.00"), Decimal("300.00"), Decimal("1.0000"), 1, Decimal("1.0000"))
    ]
    assert rows(
        warehouse,
        "select first_redemption_at, days_to_first_redemption, avg_basket_before_joining, avg_basket_after_joining, "
        "orders_per_30_days_before_joining, orders_per_30_days_after_joining, recency_days, frequency, monetary, "
        "r_score, f_score, m_score, rfm_segment from marts.dim_members",
    ) == [
        (
            at("2025-03-06 15:00:01.200"),
            3,
            Decimal("30.00"),
            Decimal("300.00"),
            Decimal("30.0000"),  # one order in the one day before joining that the data holds
            Decimal("10.0000"),  # one order in the three days after
            2,
            2,
            Decimal("330.00"),
            1,
            1,
            1,
            "Hibernating",
        )
    ]


def test_validations_name_their_code_and_the_redemption_they_led_to(warehouse):
    assert rows(
        warehouse,
        "select validation_id, validated_at, customer_source_id, status, voucher_code, campaign_name, redemption_id, "
        "is_redeemed from marts.fct_validations order by validated_at",
    ) == [
        (
            "valid_EconBobNope000000001",
            at("2025-03-05 08:00:00"),
            "econ-bob",
            "INVALID",
            "NOPE-2025",
            None,
            None,
            False,
        ),
        (
            "valid_EconAnnCard00000001",
            at("2025-03-06 15:00:00.400"),  # the validation's created_at, not the later Segment timestamp
            "econ-ann",
            "VALID",
            "ECONCARD",
            "Econ Loyalty",
            "r_econ_points",
            True,
        ),
    ]


def test_failed_publications_have_a_status_and_count_in_no_campaign(warehouse):
    assert rows(
        warehouse,
        "select publication_id, status, failure_code, campaign_name, voucher_code, customer_source_id "
        "from marts.fct_publications order by 1",
    ) == [
        ("pub_EconAnnCard00000000000001", "SUCCEEDED", None, "Econ Loyalty", "ECONCARD", "econ-ann"),
        (
            "pub_EconBobFailed0000000001",
            "FAILED",
            "no_voucher_suitable_for_publication",
            "Econ Welcome",
            None,
            "econ-bob",
        ),
        ("pub_EconCidFailed0000000001", "FAILED", "customer_rules_violated", "Econ Welcome", None, "econ-cid"),
    ]
    assert rows(
        warehouse,
        "select coalesce(sum(publications), 0) from marts.fct_campaign_performance "
        "where campaign_name = 'Econ Welcome'",
    ) == [(0,)]
