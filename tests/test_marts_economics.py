"""Program economics (issue 15): member lift, program days and liability, point cohorts and breakage, member
cohorts, validations, RFM — exactly as the generator meant them, and recomputed here a second way.

Two worlds: the session's (it ends today, so its last month is young) and one that ends on 2026-11-20, whose
October points have all been spent or expired by then (a matured month with breakage). Each mart is compared with
the generator's ground truth (computed from the simulation's own orders, ledger and point buckets), and the main
figures are recomputed from the ground truth's plain facts (orders, ledger, members) with pandas and the standard
library — never with the models' SQL.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from fractions import Fraction

import pandas as pd
import pytest

from loyalty.generate import catalog
from tests.conftest import BuiltWorld
from tests.mart_compare import canonical, differences, mart_rows, truth_rows

pytestmark = pytest.mark.slow

MATURED_END = dt.date(2026, 11, 20)

ECONOMICS_TRUTH = [
    ("marts.fct_validations", "validations.csv", ["validation_id"]),
    ("marts.agg_member_lift_monthly", "member_lift_monthly.csv", ["month", "location_id"]),
    ("marts.agg_program_daily", "program_daily.csv", ["day"]),
    ("marts.agg_points_cohorts", "points_cohorts.csv", ["earn_month"]),
    ("marts.fct_member_cohorts", "member_cohorts.csv", ["join_month", "months_since_joining"]),
    ("marts.dim_members", "members.csv", ["customer_source_id"]),
    ("marts.fct_orders", "orders.csv", ["order_id"]),
    ("marts.fct_loyalty_points", "loyalty_points.csv", ["transaction_id"]),
    ("marts.fct_publications", "publications.csv", ["publication_id"]),
]


@pytest.fixture(scope="module")
def matured_world(tmp_path_factory) -> BuiltWorld:
    """45 days to 2026-11-20 (points expire after 15 days): October is over and none of its points is left."""
    from loyalty.generate import generate_world
    from loyalty.run import run

    root = tmp_path_factory.mktemp("matured")
    generate_world(out=root / "landing", customers=150, days=45, seed=11, end_date=MATURED_END)
    run(root / "landing", root / "warehouse.duckdb", full_refresh=False, as_json=False)
    return BuiltWorld(
        landing=root / "landing", warehouse=root / "warehouse.duckdb", truth_dir=root / "landing" / "ground_truth"
    )


@pytest.fixture(params=["session_world", "matured_world"])
def world(request) -> BuiltWorld:
    return request.getfixturevalue("built_world" if request.param == "session_world" else "matured_world")


def truth_frame(world: BuiltWorld, name: str) -> pd.DataFrame:
    return pd.read_csv(world.truth_dir / name, dtype=str, keep_default_na=False)


def mart(world: BuiltWorld, table: str, columns: list[str]) -> list[dict[str, str]]:
    with world.connect() as con:
        return mart_rows(con, table, columns)


def cents(text: str) -> int:
    whole, _, part = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int((part + "00")[:2]))


def money(cents_: int) -> str:
    return canonical(f"{'-' if cents_ < 0 else ''}{abs(cents_) // 100}.{abs(cents_) % 100:02d}")


def rounded(value: Fraction, places: int) -> str:
    """Halves away from zero, as canonical text."""
    units = (abs(value) * 10**places + Fraction(1, 2)).__floor__()
    return canonical(f"{'-' if value < 0 and units else ''}{units // 10**places}.{units % 10**places:0{places}d}")


def rate(numerator: int, denominator: int, places: int = 4) -> str:
    return rounded(Fraction(numerator, denominator), places) if denominator else ""


def day(iso: str) -> dt.date:
    return dt.date.fromisoformat(iso[:10])


def month(iso: str) -> str:
    return iso[:7] + "-01"


@pytest.mark.parametrize("table, truth_file, key", ECONOMICS_TRUTH, ids=[t[0] for t in ECONOMICS_TRUTH])
def test_economics_marts_equal_ground_truth(world, table, truth_file, key):
    columns, expected = truth_rows(world.truth_dir / truth_file)
    assert expected, f"ground truth {truth_file} is empty: the comparison would prove nothing"
    assert differences(expected, mart(world, table, columns), key) == []


def test_worlds_hold_every_case_the_marts_are_about(world, request):
    orders = truth_frame(world, "orders.csv")
    assert ((orders["is_member"] == "true") & (orders["is_member_at_order"] == "false")).any(), (
        "no order before joining"
    )
    members = truth_frame(world, "members.csv")
    assert (members["avg_basket_before_joining"] != "").any()
    assert (members["days_to_first_redemption"] != "").any()
    assert members["rfm_segment"].nunique() >= 4
    validations = truth_frame(world, "validations.csv")
    assert set(validations["status"]) == {"VALID", "INVALID"} and (validations["redemption_id"] != "").any()
    assert (truth_frame(world, "publications.csv")["status"] == "FAILED").any()
    ledger = truth_frame(world, "loyalty_points.csv")
    assert ledger["earning_rule_id"].nunique() >= 3 and (ledger["reward_id"] == catalog.PAY_WITH_POINTS["id"]).any()
    assert set(truth_frame(world, "program_daily.csv")["point_value_source"]) == {"pay_with_points_reward"}
    lift = truth_frame(world, "member_lift_monthly.csv")
    assert (lift["aov_lift"] != "").any() and (lift["location_id"] == "").any()
    if request.node.callspec.params["world"] == "matured_world":  # the larger, older world has the rarer cases
        assert (members["avg_basket_after_joining"] != "").any()
        cohorts = truth_frame(world, "points_cohorts.csv")
        matured = cohorts[cohorts["is_matured"] == "true"]
        assert len(matured) and (matured["breakage_rate"] != "").all() and (cohorts["is_matured"] == "false").any()


def test_member_lift_recomputed_from_orders(world):
    orders = truth_frame(world, "orders.csv")
    paid = orders[orders["is_paid"] == "true"]
    cells: dict[tuple, dict] = defaultdict(lambda: {"true": [0, 0, set()], "false": [0, 0, set()]})
    for o in paid.itertuples():
        for location in (o.location_id, ""):
            group = cells[(month(o.ordered_at), location)][o.is_member_at_order]
            group[0] += 1
            group[1] += cents(o.total_amount)
            group[2].add(o.customer_source_id)
    expected = []
    for (m, location), groups in cells.items():
        (mo, mc, mcust), (no, nc, ncust) = groups["true"], groups["false"]
        expected.append(
            {
                "month": m,
                "location_id": location,
                "member_paid_orders": canonical(mo),
                "member_revenue": money(mc),
                "nonmember_paid_orders": canonical(no),
                "nonmember_customers": canonical(len(ncust)),
                "aov_member": rate(mc, 100 * mo, 2),
                "aov_nonmember": rate(nc, 100 * no, 2),
                "aov_lift": rounded(Fraction(mc * no, nc * mo) - 1, 4) if mo and no and nc else "",
                "orders_per_customer_member": rate(mo, len(mcust)),
            }
        )
    actual = mart(world, "marts.agg_member_lift_monthly", list(expected[0]))
    assert differences(expected, actual, ["month", "location_id"]) == []


def test_program_days_recomputed_from_the_ledger_orders_and_members(world):
    ledger = truth_frame(world, "loyalty_points.csv")
    orders = truth_frame(world, "orders.csv")
    members = truth_frame(world, "members.csv")
    publications = truth_frame(world, "publications.csv")
    redemptions = truth_frame(world, "redemptions.csv")
    times = pd.concat(
        [orders["ordered_at"], ledger["occurred_at"], publications["published_at"], redemptions["redeemed_at"]]
    )
    first, last = day(times.min()), day(times.max())
    coin = catalog.PAY_WITH_POINTS["parameters"]["coin"]
    point_value = Fraction(coin["exchange_ratio"], coin["points_ratio"])

    activity: dict[str, set] = defaultdict(set)
    for o in orders[orders["is_paid"] == "true"].itertuples():
        activity[o.customer_source_id].add(day(o.ordered_at))
    for t in ledger[ledger["movement"].isin(["earned", "burned"])].itertuples():
        activity[t.customer_source_id].add(day(t.occurred_at))
    joined = {m.customer_source_id: day(m.joined_at) for m in members.itertuples()}

    expected, outstanding, d = [], 0, first
    while d <= last:
        today = ledger[ledger["occurred_at"].str[:10] == d.isoformat()]
        points = today["points"].astype(int)
        outstanding += int(points.sum())
        in_program = [sid for sid, j in joined.items() if j <= d]
        active = [sid for sid in in_program if any(d - dt.timedelta(days=89) <= a <= d for a in activity.get(sid, ()))]
        expected.append(
            {
                "day": d.isoformat(),
                "members": canonical(len(in_program)),
                "active_members": canonical(len(active)),
                "active_member_rate": rate(len(active), len(in_program)),
                "points_earned": canonical(int(points[today["movement"] == "earned"].sum())),
                "points_burned": canonical(-int(points[today["movement"] == "burned"].sum())),
                "points_expired": canonical(-int(points[today["movement"] == "expired"].sum())),
                "outstanding_points": canonical(outstanding),
                "liability_amount": rounded(outstanding * point_value, 2),
            }
        )
        d += dt.timedelta(days=1)
    actual = mart(world, "marts.agg_program_daily", list(expected[0]))
    for row in actual:
        row["day"] = row["day"][:10]
    assert differences(expected, actual, ["day"]) == []


def test_point_cohorts_recomputed_first_in_first_out_from_the_ledger(world):
    """Each card's credits are buckets, each debit takes the oldest points left: a plain queue per card."""
    ledger = truth_frame(world, "loyalty_points.csv").sort_values(["occurred_at", "transaction_id"])
    last_day = day(truth_frame(world, "program_daily.csv")["day"].max())
    flows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    buckets: dict[str, deque] = defaultdict(deque)
    for t in ledger.itertuples():
        points = int(t.points)
        if points > 0:
            buckets[t.voucher_id].append([month(t.occurred_at), points])
            flows[month(t.occurred_at)]["earned"] += points
            continue
        spent_as = t.movement if t.movement in ("burned", "expired") else "removed"
        left = -points
        queue = buckets[t.voucher_id]
        while left:
            bucket = queue[0]
            take = min(bucket[1], left)
            flows[bucket[0]][spent_as] += take
            bucket[1] -= take
            left -= take
            if not bucket[1]:
                queue.popleft()
    expected = []
    for m, f in flows.items():
        outstanding = f["earned"] - f["burned"] - f["expired"] - f["removed"]
        start = dt.date.fromisoformat(m)
        over = last_day >= dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)
        matured = over and outstanding == 0
        expected.append(
            {
                "earn_month": m,
                "points_earned": canonical(f["earned"]),
                "points_burned": canonical(f["burned"]),
                "points_expired": canonical(f["expired"]),
                "points_removed": canonical(f["removed"]),
                "outstanding_points": canonical(outstanding),
                "is_matured": canonical(matured),
                "redemption_rate": rate(f["burned"], f["earned"]),
                "breakage_rate": rate(f["expired"], f["earned"]) if matured else "",
            }
        )
    assert differences(expected, mart(world, "marts.agg_points_cohorts", list(expected[0])), ["earn_month"]) == []


def test_member_cohorts_recomputed_from_orders_and_members(world):
    orders = truth_frame(world, "orders.csv")
    members = truth_frame(world, "members.csv")
    last_month = truth_frame(world, "program_daily.csv")["day"].max()[:7]
    index = {m.customer_source_id: month(m.joined_at) for m in members.itertuples()}

    def months_between(a: str, b: str) -> int:
        return (int(b[:4]) - int(a[:4])) * 12 + int(b[5:7]) - int(a[5:7])

    size = members.assign(join=members["joined_at"].map(month)).groupby("join").size()
    within_90 = members[(members["days_to_first_redemption"] != "")]
    within_90 = within_90[within_90["days_to_first_redemption"].astype(int) <= 90]
    redeemed = within_90.assign(join=within_90["joined_at"].map(month)).groupby("join").size()
    active: dict[tuple, set] = defaultdict(set)
    revenue: dict[tuple, int] = defaultdict(int)
    as_members = orders[(orders["is_paid"] == "true") & (orders["is_member_at_order"] == "true")]
    for o in as_members.itertuples():
        key = (index[o.customer_source_id], months_between(index[o.customer_source_id], o.ordered_at))
        active[key].add(o.customer_source_id)
        revenue[key] += cents(o.total_amount)
    expected = []
    for join, n in size.items():
        cumulative = 0
        for k in range(months_between(join, last_month) + 1):
            cumulative += revenue[(join, k)]
            expected.append(
                {
                    "join_month": join,
                    "months_since_joining": canonical(k),
                    "cohort_size": canonical(int(n)),
                    "active_members": canonical(len(active[(join, k)])),
                    "revenue": money(revenue[(join, k)]),
                    "cumulative_revenue": money(cumulative),
                    "retention": rate(len(active[(join, k)]), int(n)),
                    "redeemed_within_90_days_share": rate(int(redeemed.get(join, 0)), int(n)),
                }
            )
    actual = mart(world, "marts.fct_member_cohorts", list(expected[0]))
    assert differences(expected, actual, ["join_month", "months_since_joining"]) == []
    assert sum(revenue.values()) == sum(cents(v) for v in as_members["total_amount"])


def test_rfm_recomputed_from_paid_orders(world):
    orders = truth_frame(world, "orders.csv")
    members = truth_frame(world, "members.csv")
    last_day = day(truth_frame(world, "program_daily.csv")["day"].max())
    paid = orders[(orders["is_paid"] == "true") & orders["customer_source_id"].isin(members["customer_source_id"])]
    per_member = paid.groupby("customer_source_id").agg(
        last=("ordered_at", "max"),
        frequency=("order_id", "size"),
        monetary=("total_amount", lambda s: sum(map(cents, s))),
    )
    per_member["recency"] = per_member["last"].map(lambda t: (last_day - day(t)).days)
    n = len(per_member)
    # a score counts the members with a worse value: pandas' rank(method="min") is 1 + that count
    r = 1 + (4 * (per_member["recency"].rank(method="min", ascending=False) - 1) // n).astype(int)
    f = 1 + (4 * (per_member["frequency"].rank(method="min") - 1) // n).astype(int)
    m = 1 + (4 * (per_member["monetary"].rank(method="min") - 1) // n).astype(int)

    def segment(sid: str) -> str:
        if sid not in per_member.index:
            return "No purchase"
        rs, fs, ms = r[sid], f[sid], m[sid]
        if rs == 4 and fs >= 3 and ms >= 3:
            return "Champions"
        if rs >= 3 and fs >= 3:
            return "Loyal"
        return "New" if rs == 4 else "Promising" if rs == 3 else "At risk" if fs >= 3 else "Hibernating"

    expected = [
        {
            "customer_source_id": canonical(sid),
            "recency_days": canonical(per_member["recency"].get(sid)),
            "frequency": canonical(int(per_member["frequency"].get(sid, 0))),
            "r_score": canonical(r.get(sid)),
            "f_score": canonical(f.get(sid)),
            "m_score": canonical(m.get(sid)),
            "rfm_segment": segment(sid),
        }
        for sid in members["customer_source_id"]
    ]
    actual = mart(world, "marts.dim_members", list(expected[0]))
    assert differences(expected, actual, ["customer_source_id"]) == []
