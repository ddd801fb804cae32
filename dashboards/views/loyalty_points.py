"""Loyalty points: movements over time, outstanding points (liability) and points due to expire."""

import plotly.express as px
import streamlit as st

from dashboards import db, filters, queries
from dashboards import widgets as w

MOVEMENTS = ["earned", "burned", "refunded", "expired", "adjusted", "transferred"]

chosen = filters.current()
params = chosen.params()
st.title("Loyalty points")
st.caption(
    f"{chosen.describe()} · campaign and channel filters do not apply to the points ledger. "
    "Points are signed: earned, refunded and additions are positive; burned, expired and removals negative."
)

liability = db.query(queries.POINTS_LIABILITY, params).iloc[0]
row = st.columns(3)
w.kpi(
    row[0],
    f"Outstanding points on {chosen.end:%Y-%m-%d}",
    liability["outstanding_points"],
    formatter=w.count,
    help="Sum of every ledger movement up to the end of the period, all locations: the points liability",
)
holding = db.query(queries.MEMBERS_HOLDING_POINTS).iloc[0]["members"]
w.kpi(row[1], "Members holding points now", holding, formatter=w.count)

st.subheader(f"Points due to expire from {chosen.end:%Y-%m-%d}")
expiring = db.query(queries.POINTS_EXPIRING_WINDOWS, params).iloc[0]
if w.missing(expiring["snapshot_loaded_at"]):
    st.info("No points-expiration export from Voucherify has been loaded yet.")
else:
    st.caption(
        "Unexpired point buckets in Voucherify's latest points-expiration export (loaded "
        f"{expiring['snapshot_loaded_at']:%Y-%m-%d %H:%M} UTC) expiring on {chosen.end:%Y-%m-%d} or at most N days "
        "later (unexpired at the end of the period, so due); all locations. Buckets spent or expired after that "
        "export still count until the next one."
    )
    row = st.columns(4)
    for column, days in zip(row, (30, 60, 90)):
        w.kpi(column, f"Due within {days} days", expiring[f"due_{days}_days"], formatter=w.count)
    w.kpi(row[3], "Members, points due in 90 days", expiring["members_90_days"], formatter=w.count)
    due = db.query(queries.POINTS_EXPIRING_DAILY, params)
    if not w.empty(due, f"No points are due to expire in the 90 days after {chosen.end:%Y-%m-%d}."):
        fig = px.bar(due, x="day", y="points")
        w.chart(fig, "Expiry day (UTC)", "Points due to expire")
        w.table(due, "Points due to expire per day")

totals = db.query(queries.POINTS_TOTALS, params)
st.subheader("Movements in the period")
if w.empty(totals):
    st.stop()
by_movement = totals.set_index("movement")["points"]
row = st.columns(len(MOVEMENTS))
for column, movement in zip(row, MOVEMENTS):
    w.kpi(column, f"Points {movement}", by_movement.get(movement, 0), formatter=w.count)
w.table(totals, "Points by movement")

st.subheader("Points per day by movement")
daily = db.query(queries.POINTS_DAILY, params)
fig = px.bar(daily, x="day", y="points", color="movement", category_orders={"movement": MOVEMENTS})
fig.update_layout(barmode="relative")
w.chart(fig, w.UTC_DAY, "Points (signed)")
w.table(daily, "Points per day")
