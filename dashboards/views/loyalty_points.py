"""Loyalty points: movements over time, outstanding points (liability) and what is known about expiry."""

import plotly.express as px
import streamlit as st

from dashboards import db, filters, queries, widgets as w

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
w.kpi(row[0], f"Outstanding points on {chosen.end:%Y-%m-%d}", liability["outstanding_points"], formatter=w.count,
      help="Sum of every ledger movement up to the end of the period, all locations: the points liability")
holding = db.query(queries.MEMBERS_HOLDING_POINTS).iloc[0]["members"]
w.kpi(row[1], "Members holding points now", holding, formatter=w.count)

st.subheader("Points due to expire")
st.info(
    "Points due to expire in the next 30/60/90 days cannot be shown yet: the marts carry no expiry dates "
    "(Voucherify's points_expiration export or loyalty_card.next_expiration_date are not modelled)."
)

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
