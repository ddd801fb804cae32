"""Program economics: what the outstanding points cost (liability) and how much expires unused (breakage), how
much of what is earned gets redeemed, how active members are, and whether members spend more than non-members."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import db, filters, queries
from dashboards import widgets as w

chosen = filters.current()
params = chosen.params()
st.title("Program economics")
st.caption(
    f"{chosen.describe()} · campaign and channel filters do not apply here; the location filter applies to member "
    "lift only (points and members belong to the whole program)."
)

latest = db.query(queries.PROGRAM_AT_PERIOD_END, params)
if w.empty(latest):
    st.stop()
latest = latest.iloc[0]
st.subheader(f"Liability on {latest['day']:%Y-%m-%d}")
if latest["point_value_source"] == "pay_with_points_reward":
    source = "the exchange ratio of the program's pay-with-points reward (parameters.coin in Voucherify's data)"
else:
    source = "the `point_value` variable of the dbt project: the data describes no pay-with-points reward"
st.caption(
    f"A point is worth {float(latest['point_value']):.6f} {w.MONEY_UNIT}, from {source}. Outstanding points are every "
    "ledger movement up to the end of the day."
)
row = st.columns(4)
w.kpi(row[0], "Liability", latest["liability_amount"], help="Outstanding points × value of a point, to the cent")
w.kpi(row[1], "Outstanding points", latest["outstanding_points"], formatter=w.count)
w.kpi(row[2], "Members", latest["members"], formatter=w.count)
w.kpi(
    row[3],
    "Active member rate",
    latest["active_member_rate"],
    formatter=w.percent,
    help="Members with a paid order or points earned or burned in the 90 days up to the day",
)

points = db.query(queries.PROGRAM_PERIOD_POINTS, params).iloc[0]
row = st.columns(4)
w.kpi(row[0], "Points earned in the period", points["points_earned"], formatter=w.count)
w.kpi(row[1], "Points burned in the period", points["points_burned"], formatter=w.count)
w.kpi(row[2], "Points expired in the period", points["points_expired"], formatter=w.count)
earned = float(points["points_earned"])
w.kpi(
    row[3],
    "Burned / earned in the period",
    float(points["points_burned"]) / earned if earned else None,
    formatter=w.percent,
)

st.subheader("Liability and active members over time")
daily = db.query(queries.PROGRAM_DAILY, params)
if not w.empty(daily):
    fig = go.Figure(go.Scatter(x=daily["day"], y=daily["liability_amount"], mode="lines", name="Liability"))
    w.chart(fig, w.UTC_DAY, f"Liability ({w.MONEY_UNIT})")
    fig = px.line(daily, x="day", y="active_member_rate")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    w.chart(fig, w.UTC_DAY, "Active member rate (share of members)")
    w.table(daily, "Program per day", money_columns=["liability_amount"], percent_columns=["active_member_rate"])

st.subheader("Redemption and breakage by earn month")
st.caption(
    "Points are spent first-in, first-out like Voucherify's buckets: each month's credits end up burned, expired, "
    "removed or still outstanding. Breakage (expired / earned) is final — and shown — only once none of the "
    "month's points is left; the redemption rate is burned / earned so far."
)
cohorts = db.query(queries.POINTS_COHORTS, params)
if not w.empty(cohorts, "No points were credited in the months of this period."):
    cohorts["earn_month"] = w.months(cohorts["earn_month"])
    rates = cohorts.melt(
        id_vars="earn_month", value_vars=["redemption_rate", "breakage_rate"], var_name="rate", value_name="share"
    ).dropna()
    fig = px.bar(rates, x="earn_month", y="share", color="rate", barmode="group")
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".0%")
    w.chart(fig, "Earn month (UTC)", "Share of the points earned")
    w.table(cohorts, "Point cohorts", percent_columns=["redemption_rate", "breakage_rate"])

st.subheader("Member lift")
st.caption(
    "Paid orders of members who held the card when ordering, against everyone else's (non-members and members "
    "before joining); months overlapping the period"
    + (f", {chosen.location} only." if chosen.location else ", all locations.")
)
lift = db.query(queries.MEMBER_LIFT_MONTHLY, params)
if not w.empty(lift):
    lift["month"] = w.months(lift["month"])
    values = lift.melt(
        id_vars="month", value_vars=["aov_member", "aov_nonmember"], var_name="group", value_name="aov"
    ).dropna()
    fig = px.bar(values, x="month", y="aov", color="group", barmode="group")
    fig.update_xaxes(type="category")
    w.chart(fig, "Month (UTC)", f"Average order value ({w.MONEY_UNIT})")
    w.table(
        lift,
        "Member lift per month",
        money_columns=["member_revenue", "nonmember_revenue", "aov_member", "aov_nonmember"],
        percent_columns=["aov_lift"],
    )
by_location = db.query(queries.MEMBER_LIFT_BY_LOCATION, params)
if not by_location.empty:
    fig = px.bar(by_location.dropna(subset=["aov_lift"]), x="location_id", y="aov_lift")
    fig.update_yaxes(tickformat=".0%")
    w.chart(fig, "Location", "Member AOV lift over non-members")
w.table(
    by_location,
    "Member lift per location",
    money_columns=["member_revenue", "nonmember_revenue", "aov_member", "aov_nonmember"],
    percent_columns=["aov_lift"],
)

st.subheader("Before and after joining")
st.caption(
    "Members with a paid order in the 180 days before they joined: their average basket and paid orders per 30 "
    "days before joining and after it (the sign-up day's orders in neither), averaged over those members; all "
    "locations, as of the latest build."
)
around = db.query(queries.BEFORE_AFTER_JOINING).iloc[0]


def or_dash(formatter):
    """No such member yet: a dash, not a zero."""
    return lambda value: "—" if w.missing(value) else formatter(value)


row = st.columns(5)
w.kpi(row[0], "Members who ordered before joining", around["members"], formatter=w.count)
w.kpi(row[1], "Average basket before", around["avg_basket_before"], formatter=or_dash(w.money))
w.kpi(
    row[2],
    "Average basket after",
    around["avg_basket_after"],
    formatter=or_dash(w.money),
    help="Over the members with a paid order after joining",
)
per_30_days = or_dash(lambda value: f"{float(value):.2f}")
w.kpi(row[3], "Orders per 30 days before", around["orders_per_30_days_before"], formatter=per_30_days)
w.kpi(row[4], "Orders per 30 days after", around["orders_per_30_days_after"], formatter=per_30_days)
