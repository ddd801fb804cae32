"""Dashboards in Streamlit's AppTest on the built test world.

Every expected figure is computed a second, independent way: from the generator's ground-truth CSVs
with pandas (never by running the page's own SQL), or, for the raw layer, with a plain DuckDB query.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import db, filters, queries, widgets

pytestmark = pytest.mark.slow  # most tests use the built world (one full `loyalty run`)

APP = Path(__file__).resolve().parents[1] / "dashboards" / "app.py"
PAGES = [
    "overview",
    "redemptions",
    "loyalty_points",
    "program_economics",
    "retention",
    "locations",
    "campaigns",
    "members",
    "data_health",
]
PERIOD_PAGES = ["overview", "redemptions", "loyalty_points", "program_economics", "retention", "locations", "campaigns"]


# ── ground truth, read independently of the warehouse ────────────────────────────────────────────
class Truth:
    def __init__(self, truth_dir: Path):
        self.dir = truth_dir

    def csv(self, name: str, *time_columns: str) -> pd.DataFrame:
        frame = pd.read_csv(self.dir / f"{name}.csv", dtype=str, keep_default_na=False, na_values=[""])
        for column in time_columns:
            frame[column] = pd.to_datetime(frame[column], utc=True, format="ISO8601")
        return frame

    @property
    def orders(self) -> pd.DataFrame:
        orders = self.csv("orders", "ordered_at")
        orders["total_amount"] = orders["total_amount"].astype(float)
        orders["is_member"] = orders["is_member"].str.lower() == "true"
        orders["is_paid"] = orders["is_paid"].str.lower() == "true"
        return orders

    @property
    def redemptions(self) -> pd.DataFrame:
        redemptions = self.csv("redemptions", "redeemed_at")
        redemptions["discount_amount"] = redemptions["discount_amount"].astype(float)
        return redemptions

    @property
    def points(self) -> pd.DataFrame:
        points = self.csv("loyalty_points", "occurred_at")
        points["points"] = points["points"].astype(int)
        return points

    @property
    def publications(self) -> pd.DataFrame:
        return self.csv("publications", "published_at")

    @property
    def members(self) -> pd.DataFrame:
        return self.csv("members")

    @property
    def tier_changes(self) -> pd.DataFrame:
        return self.csv("tier_changes", "changed_at")

    @property
    def points_expiring(self) -> pd.DataFrame:
        expiring = self.csv("points_expiring")
        expiring["expires_on"] = pd.to_datetime(expiring["expires_on"]).dt.date
        expiring["points"] = expiring["points"].astype(int)
        return expiring

    @property
    def reconciliation(self) -> pd.DataFrame:
        frame = self.csv("reconciliation")
        frame["difference"] = frame["difference"].astype(float)
        return frame

    @property
    def validations(self) -> pd.DataFrame:
        return self.csv("validations", "validated_at")

    @property
    def program_daily(self) -> pd.DataFrame:
        daily = self.csv("program_daily")
        daily["day"] = pd.to_datetime(daily["day"]).dt.date
        return daily

    def full_period(self) -> tuple[dt.date, dt.date]:
        days = pd.concat([self.orders["ordered_at"], self.redemptions["redeemed_at"]])
        return days.min().date(), days.max().date()


def in_period(times: pd.Series, start: dt.date, end: dt.date) -> pd.Series:
    days = times.dt.date
    return (days >= start) & (days <= end)


def cents(value: float) -> str:
    return f"{round(value + 0.0, 2):,.2f}"


def whole(value: float) -> str:
    return f"{int(value):,}"


@pytest.fixture(scope="module")
def truth(built_world) -> Truth:
    return Truth(built_world.truth_dir)


@pytest.fixture()
def served(built_world, monkeypatch):
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(built_world.warehouse))
    return built_world


def open_page(page: str, period=None, location=None, campaign=None, channel=None) -> AppTest:
    """Open the app, set the sidebar filters like a user would, switch to `page` and run it."""
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    if period:
        at.date_input(key="filter_period").set_value(period)
    if location:
        at.selectbox(key="filter_location").set_value(location)
    if campaign:
        at.selectbox(key="filter_campaign").set_value(campaign)
    if channel:
        at.selectbox(key="filter_channel").set_value(channel)
    at.switch_page(f"views/{page}.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def metric_deltas(at: AppTest) -> dict[str, str]:
    return {m.label: m.delta for m in at.metric}


def table(at: AppTest, download_label: str) -> pd.DataFrame:
    """The dataframe shown right before the download button with this label (each table has one)."""
    buttons = [b.label for b in at.get("download_button")]
    assert f"Download {download_label} (CSV)" in buttons, buttons
    return at.dataframe[buttons.index(f"Download {download_label} (CSV)")].value


# ── every page ────────────────────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_without_exception_with_charts_labelled_and_tables_downloadable(served, page):
    at = open_page(page)
    assert at.title[0].value.replace(" ", "_").lower() == page
    # every table has its CSV download
    assert len(at.get("download_button")) >= len(at.dataframe) > 0
    for chart in at.get("plotly_chart"):
        layout = json.loads(chart.proto.spec)["layout"]
        assert layout["xaxis"]["title"]["text"] and layout["yaxis"]["title"]["text"], "a chart axis without a title"


@pytest.mark.parametrize("page", PERIOD_PAGES)
def test_an_empty_period_says_so_instead_of_a_blank_chart(served, truth, page):
    _, last = truth.full_period()
    at = open_page(page, period=(last + dt.timedelta(days=100), last + dt.timedelta(days=110)))
    assert widgets.EMPTY_MESSAGE in [i.value for i in at.info]
    assert len(at.get("plotly_chart")) == 0


# ── Overview ──────────────────────────────────────────────────────────────────────────────────────
def test_overview_kpis_match_the_ground_truth(served, truth):
    start, end = truth.full_period()
    at = open_page("overview", period=(start, end))
    shown = metrics(at)
    orders = truth.orders
    paid = orders[orders["is_paid"] & in_period(orders["ordered_at"], start, end)]
    redemptions = truth.redemptions
    redemptions = redemptions[in_period(redemptions["redeemed_at"], start, end)]
    points = truth.points
    points = points[in_period(points["occurred_at"], start, end)]

    assert shown["Revenue"] == cents(paid["total_amount"].sum())
    assert shown["Paid orders"] == whole(len(paid))
    assert shown["Average order value"] == cents(paid["total_amount"].sum() / len(paid))
    assert shown["Customers who ordered"] == whole(paid["customer_source_id"].nunique())
    assert shown["Member share of orders"] == f"{paid['is_member'].mean() * 100:.1f}%"
    assert shown["Successful redemptions"] == whole((redemptions["status"] == "SUCCEEDED").sum())
    assert shown["Failed redemptions"] == whole((redemptions["status"] == "FAILED").sum())
    assert shown["Rolled-back redemptions"] == whole((redemptions["status"] == "ROLLED_BACK").sum())
    assert shown["Discount given"] == cents(
        redemptions.loc[redemptions["status"] == "SUCCEEDED", "discount_amount"].sum()
    )
    assert shown["Points earned"] == whole(points.loc[points["movement"] == "earned", "points"].sum())
    assert shown["Points burned"] == whole(-points.loc[points["movement"] == "burned", "points"].sum())
    daily = table(at, "Revenue per day")
    assert round(daily["revenue"].sum(), 2) == round(paid["total_amount"].sum(), 2)


def test_overview_shows_the_change_against_the_previous_period(served, truth):
    first, last = truth.full_period()
    length = (last - first).days // 2
    start = last - dt.timedelta(days=length - 1)
    previous_start, previous_end = start - dt.timedelta(days=length), start - dt.timedelta(days=1)
    at = open_page("overview", period=(start, last))
    orders = truth.orders
    paid = orders[orders["is_paid"]]
    current = paid.loc[in_period(paid["ordered_at"], start, last), "total_amount"].sum()
    previous = paid.loc[in_period(paid["ordered_at"], previous_start, previous_end), "total_amount"].sum()
    assert previous > 0 and current != previous
    change = current - previous
    expected = f"{'+' if change >= 0 else '-'}{cents(abs(change))} ({change / previous * 100:+.1f}%)"
    assert metric_deltas(at)["Revenue"] == expected


def test_location_filter_narrows_every_overview_figure(served, truth):
    start, end = truth.full_period()
    orders = truth.orders
    paid = orders[orders["is_paid"] & in_period(orders["ordered_at"], start, end)]
    location = paid.groupby("location_id")["total_amount"].sum().idxmax()
    at = open_page("overview", period=(start, end), location=location)
    here = paid[paid["location_id"] == location]
    redemptions = truth.redemptions
    redemptions = redemptions[
        in_period(redemptions["redeemed_at"], start, end) & (redemptions["location_id"] == location)
    ]
    assert here["total_amount"].sum() < paid["total_amount"].sum()
    assert metrics(at)["Revenue"] == cents(here["total_amount"].sum())
    assert metrics(at)["Paid orders"] == whole(len(here))
    assert metrics(at)["Successful redemptions"] == whole((redemptions["status"] == "SUCCEEDED").sum())


def test_campaign_filter_keeps_the_orders_behind_that_campaigns_successful_redemptions(served, truth):
    start, end = truth.full_period()
    redemptions = truth.redemptions
    succeeded = redemptions[redemptions["status"] == "SUCCEEDED"]
    campaign = succeeded["campaign_name"].value_counts().idxmax()
    at = open_page("overview", period=(start, end), campaign=campaign)
    orders = truth.orders
    behind = orders[
        orders["is_paid"]
        & in_period(orders["ordered_at"], start, end)
        & orders["order_id"].isin(succeeded.loc[succeeded["campaign_name"] == campaign, "order_id"])
    ]
    assert metrics(at)["Revenue"] == cents(behind["total_amount"].sum())
    assert metrics(at)["Paid orders"] == whole(len(behind))


# ── Redemptions ───────────────────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("dimension", ["campaign", "channel"])
def test_redemption_counts_follow_the_campaign_and_channel_filters(served, truth, dimension):
    start, end = truth.full_period()
    redemptions = truth.redemptions
    column = {"campaign": "campaign_name", "channel": "channel_type"}[dimension]
    value = redemptions.loc[redemptions["status"] == "FAILED", column].value_counts().idxmax()
    at = open_page("redemptions", period=(start, end), **{dimension: value})
    chosen = redemptions[in_period(redemptions["redeemed_at"], start, end) & (redemptions[column] == value)]
    shown = metrics(at)
    assert shown["Succeeded"] == whole((chosen["status"] == "SUCCEEDED").sum())
    assert shown["Failed"] == whole((chosen["status"] == "FAILED").sum())
    assert shown["Rolled back"] == whole((chosen["status"] == "ROLLED_BACK").sum())
    assert shown["Discount given (succeeded)"] == cents(
        chosen.loc[chosen["status"] == "SUCCEEDED", "discount_amount"].sum()
    )
    assert len(chosen) < len(redemptions)


def test_failure_codes_rollbacks_and_hot_spots_match_the_ground_truth(served, truth):
    start, end = truth.full_period()
    at = open_page("redemptions", period=(start, end))
    redemptions = truth.redemptions
    failed = redemptions[(redemptions["status"] == "FAILED") & in_period(redemptions["redeemed_at"], start, end)]

    codes = table(at, "Failure codes")
    expected = failed.groupby(["failure_code", "failure_message"]).size()
    assert (
        dict(zip(zip(codes["failure_code"], codes["failure_message"]), codes["failed_attempts"])) == expected.to_dict()
    )

    rolled_back = redemptions[
        (redemptions["status"] == "ROLLED_BACK") & in_period(redemptions["redeemed_at"], start, end)
    ]
    assert set(table(at, "Rolled-back redemptions")["redemption_id"]) == set(rolled_back["redemption_id"])

    # Hot spots with at least one failure: every (customer, location) pair with its failed attempts — failed
    # redemptions and invalid validations (which have no location).
    at.number_input(key="min_failed").set_value(1).run()
    spots = table(at, "Failed-attempt hot spots")
    validations = truth.validations
    invalid = validations[(validations["status"] == "INVALID") & in_period(validations["validated_at"], start, end)]
    assert len(invalid), "the world has no failed validation: the test would not show they join the hot spots"
    by_spot = pd.concat(
        [
            failed.assign(
                location_id=failed["location_id"].fillna("(no location)"), attempt_id=failed["redemption_id"]
            ),
            invalid.assign(location_id="(no location)", attempt_id=invalid["validation_id"]),
        ]
    )
    expected_spots = by_spot.groupby(["customer_source_id", "location_id"]).size()
    assert (
        dict(zip(zip(spots["customer_source_id"], spots["location_id"]), spots["failed_attempts"]))
        == expected_spots.to_dict()
    )
    expected_validations = invalid.groupby("customer_source_id").size()
    shown_validations = spots[spots["failed_validations"] > 0].set_index("customer_source_id")["failed_validations"]
    assert shown_validations.to_dict() == expected_validations.to_dict()
    # Drill down into the first spot: its failed attempts are listed one by one.
    customer, location = spots.iloc[0]["customer_source_id"], spots.iloc[0]["location_id"]
    attempts = table(at, "Failed attempts of the selected hot spot")
    expected_ids = by_spot[(by_spot["customer_source_id"] == customer) & (by_spot["location_id"] == location)][
        "attempt_id"
    ]
    assert sorted(attempts["attempt_id"]) == sorted(expected_ids)


def test_validated_to_redeemed_funnel_matches_the_ground_truth(served, truth):
    start, end = truth.full_period()
    at = open_page("redemptions", period=(start, end))
    validations = truth.validations
    chosen = validations[in_period(validations["validated_at"], start, end)]
    valid = chosen[chosen["status"] == "VALID"]
    redeemed = valid["redemption_id"].notna().sum()
    shown = metrics(at)
    assert shown["Valid validations"] == whole(len(valid))
    assert shown["Then redeemed"] == whole(redeemed)
    assert shown["Validated → redeemed"] == f"{redeemed / len(valid) * 100:.1f}%"
    assert shown["Invalid validations"] == whole((chosen["status"] == "INVALID").sum())


# ── Loyalty points ────────────────────────────────────────────────────────────────────────────────
def test_points_movements_and_liability_match_the_ground_truth(served, truth):
    start, end = truth.full_period()
    at = open_page("loyalty_points", period=(start, end))
    points = truth.points
    shown = metrics(at)
    period = points[in_period(points["occurred_at"], start, end)]
    for movement in ["earned", "burned", "refunded", "expired", "adjusted", "transferred"]:
        assert shown[f"Points {movement}"] == whole(period.loc[period["movement"] == movement, "points"].sum()), (
            movement
        )
    held = points[points["occurred_at"].dt.date <= end]
    assert shown[f"Outstanding points on {end:%Y-%m-%d}"] == whole(held["points"].sum())
    assert shown["Members holding points now"] == whole((truth.members["points_balance"].astype(int) > 0).sum())


def test_the_default_period_reaches_ledger_rows_after_the_last_order(built_world, truth, tmp_path, monkeypatch):
    """Points expire after the last order (say, the nightly expiry run a week later): the default period must end
    on that day, or the Loyalty points page shows 0 expired in every period the date picker offers."""
    published = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_world.warehouse, published)
    _, last = truth.full_period()
    expiry_day = last + dt.timedelta(days=7)
    with duckdb.connect(str(published)) as con:
        con.execute(
            """insert into marts.fct_loyalty_points (transaction_id, occurred_at, customer_source_id, movement, points)
               values ('vtx_late_1', ?, ?, 'expired', -40), ('vtx_late_2', ?, ?, 'expired', -2)""",
            [
                dt.datetime.combine(expiry_day, dt.time(3), dt.UTC),
                truth.members["customer_source_id"].iloc[0],
                dt.datetime.combine(expiry_day, dt.time(23, 59), dt.UTC),
                truth.members["customer_source_id"].iloc[1],
            ],
        )
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(published))
    default = filters.default_filters()
    assert default.end == expiry_day
    at = open_page("loyalty_points")  # the default period, as a user first sees it
    points = truth.points
    in_default = points[in_period(points["occurred_at"], default.start, default.end)]
    expired = in_default.loc[in_default["movement"] == "expired", "points"].sum() - 42
    assert metrics(at)["Points expired"] == whole(expired)


def test_points_due_to_expire_in_30_60_90_days_match_the_ground_truth(served, truth):
    """Windows hold the buckets expiring from the period's last day to N days later. The period ends so that the
    30-day window holds only part of the unexpired buckets and the 60-day one all of them: each window is checked
    against its own sum."""
    expiring = truth.points_expiring
    days = sorted(expiring["expires_on"].unique())
    end = days[len(days) // 2] - dt.timedelta(days=30)
    at = open_page("loyalty_points", period=(end - dt.timedelta(days=6), end))
    shown = metrics(at)
    ahead = expiring[expiring["expires_on"] >= end]
    due = {n: ahead.loc[ahead["expires_on"] <= end + dt.timedelta(days=n), "points"].sum() for n in (30, 60, 90)}
    assert 0 < due[30] < due[60], "the chosen period does not split the buckets between the windows"
    for n in (30, 60, 90):
        assert shown[f"Due within {n} days"] == whole(due[n]), n
    within_90 = ahead[ahead["expires_on"] <= end + dt.timedelta(days=90)]
    assert shown["Members, points due in 90 days"] == whole(within_90["customer_source_id"].nunique())
    per_day = table(at, "Points due to expire per day")
    expected = within_90.groupby("expires_on").agg(members=("customer_source_id", "nunique"), points=("points", "sum"))
    assert [d.date() for d in pd.to_datetime(per_day["day"])] == list(expected.index)
    assert per_day["points"].astype(int).tolist() == expected["points"].tolist()
    assert per_day["members"].astype(int).tolist() == expected["members"].tolist()


def test_points_expiring_on_the_periods_last_day_are_due_and_none_after_says_so(served, truth):
    expiring = truth.points_expiring
    last = expiring["expires_on"].max()
    at = open_page("loyalty_points", period=(last - dt.timedelta(days=3), last))
    assert metrics(at)["Due within 30 days"] == whole(expiring.loc[expiring["expires_on"] == last, "points"].sum())
    after = last + dt.timedelta(days=1)
    at = open_page("loyalty_points", period=(last - dt.timedelta(days=3), after))
    assert metrics(at)["Due within 90 days"] == "0"
    assert f"No points are due to expire in the 90 days after {after:%Y-%m-%d}." in [i.value for i in at.info]


# ── Program economics ─────────────────────────────────────────────────────────────────────────────
def test_program_economics_matches_the_ground_truth(served, truth):
    start, end = truth.full_period()
    at = open_page("program_economics", period=(start, end))
    shown = metrics(at)
    daily = truth.program_daily
    last = daily[daily["day"] <= end].iloc[-1]
    assert shown["Liability"] == cents(float(last["liability_amount"]))
    assert shown["Outstanding points"] == whole(int(last["outstanding_points"]))
    assert shown["Members"] == whole(int(last["members"]))
    assert shown["Active member rate"] == f"{float(last['active_member_rate']) * 100:.1f}%"
    period = daily[(daily["day"] >= start) & (daily["day"] <= end)]
    for movement in ("earned", "burned", "expired"):
        assert shown[f"Points {movement} in the period"] == whole(period[f"points_{movement}"].astype(int).sum())
    # the point's value comes from the pay-with-points reward, and the page says so
    assert last["point_value_source"] == "pay_with_points_reward"
    assert any("pay-with-points reward" in c.value for c in at.caption)

    # lift per month: the all-locations rows; per location: months' orders and revenue summed
    orders = truth.orders
    paid = orders[orders["is_paid"]]
    months = paid["ordered_at"].dt.strftime("%Y-%m")
    lift = table(at, "Member lift per month")
    shown_orders = dict(zip(lift["month"], lift["member_paid_orders"]))
    members_at_order = paid["is_member_at_order"].str.lower() == "true"
    assert shown_orders == paid[members_at_order].groupby(months[members_at_order]).size().to_dict()
    by_location = table(at, "Member lift per location").set_index("location_id")
    revenue = paid[members_at_order].groupby("location_id")["total_amount"].sum()
    assert {k: round(v, 2) for k, v in by_location["member_revenue"].items() if v} == {
        k: round(v, 2) for k, v in revenue.items()
    }

    # before and after joining: averages over the members who ordered in the 180 days before joining
    members = truth.members
    eligible = members[members["avg_basket_before_joining"].notna()]
    assert len(eligible)
    assert shown["Members who ordered before joining"] == whole(len(eligible))
    assert shown["Average basket before"] == cents(eligible["avg_basket_before_joining"].astype(float).mean())
    after = eligible["avg_basket_after_joining"].dropna().astype(float)
    assert shown["Average basket after"] == (cents(after.mean()) if len(after) else "—")


def test_program_economics_says_when_the_point_value_is_the_variable(built_world, tmp_path, monkeypatch):
    published = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_world.warehouse, published)
    with duckdb.connect(str(published)) as con:
        con.execute("update marts.agg_program_daily set point_value_source = 'point_value_var'")
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(published))
    at = open_page("program_economics")
    assert any("`point_value` variable" in c.value for c in at.caption)


# ── Retention ─────────────────────────────────────────────────────────────────────────────────────
def test_retention_cohorts_and_first_redemptions_match_the_ground_truth(served, truth):
    start, end = truth.full_period()
    at = open_page("retention", period=(start, end))
    cohorts = truth.csv("member_cohorts")
    shown = table(at, "Cohort retention")
    assert len(shown) == len(cohorts)
    assert shown["retention"].astype(float).round(4).tolist() == cohorts["retention"].astype(float).tolist()
    assert shown["active_members"].tolist() == cohorts["active_members"].astype(int).tolist()
    assert len(at.get("plotly_chart")) >= 2  # the heat map and the time to first redemption

    members = truth.members
    joined = pd.to_datetime(members["joined_at"], utc=True, format="ISO8601")
    in_range = members[in_period(joined, start, end)]
    days = in_range["days_to_first_redemption"].dropna().astype(int)
    shown = metrics(at)
    assert shown["Members who joined in the period"] == whole(len(in_range))
    assert shown["Of them, redeemed points"] == whole(len(days))
    buckets = table(at, "Members by days to first redemption").set_index("bucket")["members"].to_dict()
    assert buckets.get("not yet", 0) == len(in_range) - len(days)
    assert buckets.get("0-7 days", 0) == (days <= 7).sum()
    assert sum(buckets.values()) == len(in_range)
    within = table(at, "Redeemed within 90 days per join month")
    first_months = cohorts[cohorts["months_since_joining"] == "0"]
    assert within["redeemed_within_90_days"].tolist() == first_months["redeemed_within_90_days"].astype(int).tolist()


# ── Locations ─────────────────────────────────────────────────────────────────────────────────────
def test_locations_are_ranked_by_revenue_with_orders_and_member_share(served, truth):
    start, end = truth.full_period()
    at = open_page("locations", period=(start, end))
    ranking = table(at, "Locations ranked")
    orders = truth.orders
    paid = orders[orders["is_paid"] & in_period(orders["ordered_at"], start, end)]
    expected = paid.groupby("location_id").agg(
        revenue=("total_amount", "sum"),
        paid_orders=("order_id", "size"),
        member_share=("is_member", "mean"),
    )
    shown = ranking.set_index("location_id").loc[expected.index]
    assert [round(v, 2) for v in shown["revenue"]] == [round(v, 2) for v in expected["revenue"]]
    assert shown["paid_orders"].tolist() == expected["paid_orders"].tolist()
    assert [round(v, 6) for v in shown["member_share"]] == [round(v, 6) for v in expected["member_share"]]
    assert ranking["revenue"].is_monotonic_decreasing


# ── Campaigns ─────────────────────────────────────────────────────────────────────────────────────
def test_campaign_funnel_discount_and_revenue_match_the_ground_truth(served, truth):
    start, end = truth.full_period()
    publications = truth.publications
    start = min(start, publications["published_at"].min().date())
    end = max(end, publications["published_at"].max().date())
    at = open_page("campaigns", period=(start, end))
    shown = table(at, "Campaign performance").set_index("campaign_name")

    redemptions = truth.redemptions
    orders = truth.orders
    succeeded = redemptions[redemptions["status"] == "SUCCEEDED"]
    paid_totals = orders[orders["is_paid"]].set_index("order_id")["total_amount"]
    redeemed_codes = set(redemptions.loc[redemptions["status"].isin({"SUCCEEDED", "ROLLED_BACK"}), "voucher_code"])
    publications = publications[publications["status"] == "SUCCEEDED"]  # a failed one handed out nothing
    for campaign, row in shown.iterrows():
        published = publications[publications["campaign_name"] == campaign]
        assert row["publications"] == len(published), campaign
        assert row["converted_publications"] == published["voucher_code"].isin(redeemed_codes).sum(), campaign
        mine = succeeded[succeeded["campaign_name"] == campaign]
        assert row["redemptions_succeeded"] == len(mine), campaign
        assert round(row["discount_given"], 2) == round(mine["discount_amount"].sum(), 2), campaign
        revenue = (
            mine["order_id"].map(paid_totals).astype(float).sum()
        )  # no success: an empty str series would sum to ""
        assert round(row["revenue"], 2) == round(revenue, 2), campaign
    assert set(shown.index) >= set(publications["campaign_name"]) | set(succeeded["campaign_name"])


# ── Members ───────────────────────────────────────────────────────────────────────────────────────
def test_tier_distribution_and_segments_match_the_ground_truth(served, truth):
    at = open_page("members")
    members = truth.members
    tiers = table(at, "Tier distribution").set_index("tier")["members"].to_dict()
    assert tiers == members["current_tier"].fillna("No tier").value_counts().to_dict()
    shown = metrics(at)
    assert shown[queries.SEGMENTS["multi_store"][0]] == whole(
        (members["distinct_locations_visited"].astype(int) >= 3).sum()
    )
    assert shown[queries.SEGMENTS["frequent"][0]] == whole((members["orders_count"].astype(int) >= 5).sum())


def test_rfm_segments_and_each_segments_members_match_the_ground_truth(served, truth):
    at = open_page("members")
    members = truth.members
    sizes = table(at, "RFM segments").set_index("rfm_segment")["members"].to_dict()
    assert sizes == members["rfm_segment"].value_counts().to_dict()
    assert len(sizes) >= 4
    for segment in ("Champions", "No purchase"):
        at.selectbox(key="rfm_segment").set_value(segment).run()
        listed = table(at, f"RFM segment {segment}")
        assert sorted(listed["customer_source_id"]) == sorted(
            members.loc[members["rfm_segment"] == segment, "customer_source_id"]
        )


def test_tier_movements_in_the_period_match_the_ground_truth(served, truth):
    changes = truth.tier_changes
    start, end = changes["changed_at"].min().date(), changes["changed_at"].max().date()
    start = start + dt.timedelta(days=2)  # a period that leaves some changes out, so the filter is tested too
    at = open_page("members", period=(start, end))
    chosen = changes[in_period(changes["changed_at"], start, end)].fillna({"tier_from": "(none)", "tier_to": "(none)"})
    assert 0 < len(chosen) < len(changes)
    shown = table(at, "Tier movements").set_index(["change_type", "tier_from", "tier_to"])
    expected = chosen.groupby(["change_type", "tier_from", "tier_to"]).agg(
        changes=("customer_source_id", "size"), members=("customer_source_id", "nunique")
    )
    assert shown["changes"].astype(int).to_dict() == expected["changes"].to_dict()
    assert shown["members"].astype(int).to_dict() == expected["members"].to_dict()
    assert len(at.get("plotly_chart")) >= 2  # tier distribution and tier movements over time


def test_a_period_without_tier_changes_says_so(served, truth):
    last = truth.tier_changes["changed_at"].max().date()
    at = open_page("members", period=(last + dt.timedelta(days=100), last + dt.timedelta(days=110)))
    assert "No tier changes in the selected period." in [i.value for i in at.info]


def test_member_lookup_shows_the_members_whole_timeline(served, truth):
    members = truth.members
    orders, redemptions, points = truth.orders, truth.redemptions, truth.points
    activity = (
        orders["customer_source_id"]
        .value_counts()
        .add(redemptions["customer_source_id"].value_counts(), fill_value=0)
        .add(points["customer_source_id"].value_counts(), fill_value=0)
    )
    member = activity[activity.index.isin(members["customer_source_id"])].idxmax()
    at = open_page("members")
    at.text_input(key="member_needle").input(member).run()
    assert not at.exception
    timeline = table(at, f"Timeline {member}")
    assert len(timeline) == activity[member]
    expected = members.set_index("customer_source_id").loc[member]
    assert metrics(at)["Lifetime order amount"] == cents(float(expected["lifetime_order_amount"]))
    assert metrics(at)["Points balance"] == whole(int(expected["points_balance"]))


def test_member_search_takes_percent_and_underscore_literally(served, truth):
    """`%` and `_` used to act as LIKE wildcards: `%` listed every member, `_` any id of one character or more."""
    assert db.query(queries.MEMBER_SEARCH, {"needle": "%"}).empty
    assert db.query(queries.MEMBER_SEARCH, {"needle": "_"}).empty
    member = sorted(truth.members["customer_source_id"])[0]
    assert db.query(queries.MEMBER_SEARCH, {"needle": member[:1] + "_"})["customer_source_id"].tolist() == sorted(
        m for m in truth.members["customer_source_id"] if m.lower().startswith(member[:1].lower() + "_")
    )
    found = db.query(queries.MEMBER_SEARCH, {"needle": member.upper()[:-1]})["customer_source_id"].tolist()
    assert member in found


# ── Data health ───────────────────────────────────────────────────────────────────────────────────
def test_data_health_shows_loads_rejections_the_last_run_and_reconciliation_mismatches(served, truth):
    at = open_page("data_health")
    with duckdb.connect(str(served.warehouse), read_only=True) as con:
        rejected = con.execute("select count(*) from raw.rejected_records").fetchone()[0]
        loaded = dict(con.execute("select source, sum(rows_loaded) from raw.ingest_files group by source").fetchall())
    if rejected:
        assert table(at, "Rejected records by reason")["records"].sum() == rejected
    rows = table(at, "Rows loaded per source").set_index("source")["rows_loaded"].to_dict()
    assert rows == loaded
    assert metrics(at)["Last run"] == "succeeded"
    mismatches = (truth.reconciliation["difference"] != 0).sum()
    assert metrics(at)["Mismatched customer × metric pairs"] == whole(mismatches)


def _pushed_copy(built_world, tmp_path, failing: dict[str, str]):
    """A copy of the built world pushed once to a loopback Voucherify (some customers' updates refused)."""
    from fake_voucherify_push_api import FakeVoucherifyPush
    from rich.console import Console

    from loyalty.errors import LoyaltyError
    from loyalty.push import push

    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_world.warehouse, warehouse)
    with FakeVoucherifyPush(failing_customers=failing) as fake:
        with pytest.raises(LoyaltyError, match="not updated"):
            push(
                warehouse,
                base_url=fake.url,
                app_id=fake.app_id,
                app_token=fake.app_token,
                poll_interval=0.01,
                console=Console(file=io.StringIO()),
            )
        codes = {p["tracking_id"]: p["voucher"]["code"] for p in fake.publications}
    return warehouse, codes


@pytest.mark.parametrize("source", ["push log", "ops tables of the next build"])
def test_data_health_shows_pushes_rewards_per_rule_failures_and_each_rules_members(
    built_world, truth, tmp_path, monkeypatch, source
):
    from loyalty.push.log import fold_push_log, push_log_path_for

    members = truth.members
    refused = sorted(members["customer_source_id"])[:2]
    warehouse, codes = _pushed_copy(built_world, tmp_path, dict.fromkeys(refused, "Customer is locked"))
    if source != "push log":  # what a `loyalty run` folds into the build it publishes, once the log is gone
        fold_push_log(warehouse, warehouse)
        push_log_path_for(warehouse).unlink()
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(warehouse))
    at = open_page("data_health")

    assert metrics(at)["Last push"] == "failed"
    assert metrics(at)["Customers updated (last push)"] == whole(len(members) - 2)
    pushes = table(at, "Pushes")
    assert pushes["traits_failed"].tolist() == [2] and "Customer is locked" in pushes["error"].iloc[0]

    silver = set(members.loc[members["current_tier"].isin(["Silver", "Gold"]), "customer_source_id"])
    rules = table(at, "Rewards published per rule").set_index("rule_name")
    assert rules.loc["silver_tier_gift", "members_rewarded"] == len(silver) == len(codes)
    assert rules.loc["silver_tier_gift", "qualifying_members"] == len(silver)
    third_store = (members["distinct_locations_visited"].astype(int) >= 3).sum()
    assert rules.loc["third_store_visit", "qualifying_members"] == third_store

    failures = table(at, "Push failures")
    assert sorted(failures["customer_source_id"]) == refused
    assert set(failures["error"]) == {"error: Customer is locked: Customer is locked"}

    qualifying = table(at, "Qualifying members silver_tier_gift")
    assert set(qualifying["customer_source_id"]) == silver
    assert dict(zip(qualifying["customer_source_id"], qualifying["voucher_code"])) == codes
    assert set(qualifying["reward"]) == {"published"}


def test_data_health_says_when_nothing_was_pushed(served):
    at = open_page("data_health")
    assert metrics(at)["Last push"] == "—"
    assert "No push yet: run `loyalty push voucherify` or `loyalty run --push`." in [i.value for i in at.info]


# ── the reader itself ─────────────────────────────────────────────────────────────────────────────
def _warehouse_with(path: Path, value: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("create schema marts")
        con.execute("create table marts.answer as select ?::integer as value", [value])


def test_reader_follows_an_atomic_publish_and_drops_the_cached_answer(tmp_path):
    published = tmp_path / "warehouse.duckdb"
    _warehouse_with(published, 1)
    before = db.published_version(published)
    assert db.query("select value from marts.answer", path=published).iloc[0, 0] == 1
    held = db.query_uncached("select value from marts.answer", path=published)  # an open reader during the publish

    next_build = tmp_path / "warehouse.duckdb.next"
    _warehouse_with(next_build, 2)
    os.replace(next_build, published)

    assert db.published_version(published) != before
    assert db.query("select value from marts.answer", path=published).iloc[0, 0] == 2
    assert held.iloc[0, 0] == 1


def test_an_open_dashboard_shows_the_new_build_after_a_publish(built_world, tmp_path, monkeypatch):
    published = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_world.warehouse, published)
    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(published))
    at = open_page("overview")
    before = metrics(at)["Paid orders"]

    # The next build (made like `loyalty run` does: a copy, changed, renamed over the published file)
    # has lost the newest paid order.
    next_build = tmp_path / "warehouse.duckdb.next"
    shutil.copyfile(published, next_build)
    with duckdb.connect(str(next_build)) as con:
        con.execute(
            "delete from marts.fct_orders where order_id = (select order_id from marts.fct_orders "
            "where is_paid order by ordered_at desc limit 1)"
        )
    os.replace(next_build, published)

    at.run()  # the same session, e.g. the user changes a filter or reloads
    assert not at.exception
    assert metrics(at)["Paid orders"] == whole(int(before.replace(",", "")) - 1)


def test_user_input_is_bound_as_a_parameter_never_spliced_into_sql(served):
    params = filters.default_filters().params() | {
        "location": "x' or '1'='1",
        "campaign": "'); drop table marts.fct_redemptions; --",
    }
    assert db.query(queries.REDEMPTIONS_TOTALS, params).empty
    assert not db.query_uncached("select count(*) as n from marts.fct_redemptions").empty


def test_every_benchmarked_query_runs_with_the_sample_parameters(served):
    params = filters.sample_params()
    for _page, statements in queries.PAGE_QUERIES.items():
        for _name, sql in statements.items():
            db.query_uncached(sql, params)  # raises on a missing parameter or a column the marts lack


def test_serve_refuses_a_missing_warehouse_with_a_clear_error(tmp_path):
    from loyalty.errors import LoyaltyError
    from loyalty.serve import serve

    with pytest.raises(LoyaltyError, match="no warehouse at"):
        serve(tmp_path / "missing.duckdb", 8599)


def test_serve_refuses_a_busy_port_with_a_clear_error(tmp_path):
    import socket

    from loyalty.errors import LoyaltyError
    from loyalty.serve import serve

    warehouse = tmp_path / "warehouse.duckdb"
    _warehouse_with(warehouse, 1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(LoyaltyError, match="already in use"):
            serve(warehouse, taken.getsockname()[1])
