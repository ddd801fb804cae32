"""Redemptions: successes and failures over time, failure codes, rollbacks, validated → redeemed, and failed-attempt
hot spots (failed redemptions and invalid validations)."""

import plotly.express as px
import streamlit as st

from dashboards import db, filters, queries
from dashboards import widgets as w

STATUS_COLOURS = {"SUCCEEDED": "#2e7d32", "FAILED": "#c62828", "ROLLED_BACK": "#f9a825"}

chosen = filters.current()
params = chosen.params()
st.title("Redemptions")
st.caption(
    f"{chosen.describe()} · by redemption time; one row per redeemed voucher or promotion (stack parents excluded)."
)

totals = db.query(queries.REDEMPTIONS_TOTALS, params)
if w.empty(totals):
    st.stop()
by_status = totals.set_index("status")
row = st.columns(4)
for column, status, label in zip(row, ["SUCCEEDED", "FAILED", "ROLLED_BACK"], ["Succeeded", "Failed", "Rolled back"]):
    w.kpi(column, label, by_status["redemptions"].get(status, 0), formatter=w.count)
w.kpi(row[3], "Discount given (succeeded)", by_status["discount_amount"].get("SUCCEEDED", 0))

st.subheader("Redemptions per day by status")
daily = db.query(queries.REDEMPTIONS_DAILY, params)
fig = px.bar(daily, x="day", y="redemptions", color="status", color_discrete_map=STATUS_COLOURS)
w.chart(fig, w.UTC_DAY, "Redemptions (count)")

st.subheader("Failure codes")
codes = db.query(queries.FAILURE_CODES, params)
w.table(codes, "Failure codes")

st.subheader("Rollbacks")
w.table(db.query(queries.ROLLBACKS, params), "Rolled-back redemptions", money_columns=["discount_amount"])

st.subheader("Validated → redeemed")
st.caption(
    "Codes customers checked (Voucherify validations) and whether the same customer then redeemed the same code; "
    "validations carry no location or channel, so only the period and campaign filters apply."
)
funnel = db.query(queries.VALIDATION_FUNNEL, params).iloc[0]
row = st.columns(4)
w.kpi(row[0], "Valid validations", funnel["valid"], formatter=w.count)
w.kpi(row[1], "Then redeemed", funnel["valid_then_redeemed"], formatter=w.count)
w.kpi(row[2], "Validated → redeemed", funnel["validated_to_redeemed_rate"], formatter=w.percent)
w.kpi(row[3], "Invalid validations", funnel["invalid"], formatter=w.count, bad_when_up=True)

st.subheader("Hot spots of failed attempts")
st.caption(
    "Customers with many failed attempts at one location: a fraud signal (code guessing, abuse of rules). Failed "
    'attempts are failed redemptions and invalid validations; validations have no location ("(no location)") and '
    "are left out when a location or channel is chosen."
)
min_failed = st.number_input("At least this many failed attempts", min_value=1, value=3, step=1, key="min_failed")
spots = db.query(queries.FAILED_HOT_SPOTS, {**params, "min_failed": int(min_failed)})
w.table(
    spots,
    "Failed-attempt hot spots",
    empty_message="No customer has that many failed attempts at one location in this period.",
)
if not spots.empty:
    labels = [f"{r.customer_source_id} @ {r.location_id} ({r.failed_attempts} failed)" for r in spots.itertuples()]
    picked = st.selectbox("Drill down into", range(len(labels)), format_func=labels.__getitem__, key="hot_spot")
    spot = spots.iloc[picked]
    attempts = db.query(
        queries.FAILED_DRILL_DOWN,
        {**params, "customer": spot["customer_source_id"], "spot_location": spot["location_id"]},
    )
    w.table(attempts, "Failed attempts of the selected hot spot")
