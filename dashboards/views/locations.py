"""Locations: orders, revenue, member share, redemptions and points per location, ranked and over time."""

import plotly.express as px
import streamlit as st

from dashboards import db, filters, queries
from dashboards import widgets as w

chosen = filters.current()
params = chosen.params()
st.title("Locations")
st.caption(
    f"{chosen.describe()} · the six stores plus Web and Mobile App; paid orders only. "
    "Campaign and channel filters do not apply to the daily location figures."
)

ranking = db.query(queries.LOCATION_RANKING, params)
if w.empty(ranking):
    st.stop()

st.subheader("Ranked by revenue")
fig = px.bar(ranking, x="location_id", y="revenue", hover_data=["paid_orders", "member_share"])
fig.update_traces(hovertemplate="%{x}: %{y:,.2f}<extra></extra>")
w.chart(fig, "Location", f"Revenue ({w.MONEY_UNIT})")
w.table(ranking, "Locations ranked", money_columns=["revenue"], percent_columns=["member_share"])

st.subheader("Revenue per day by location (stacked)")
daily = db.query(queries.LOCATION_DAILY, params)
fig = px.bar(daily, x="day", y="revenue", color="location_id")
w.chart(fig, w.UTC_DAY, f"Revenue ({w.MONEY_UNIT})")
w.table(daily, "Revenue per day by location", money_columns=["revenue"])
