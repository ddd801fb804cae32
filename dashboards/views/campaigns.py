"""Campaigns: publication → redemption funnel, discount given and revenue per campaign."""

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import db, filters, queries
from dashboards import widgets as w

chosen = filters.current()
params = chosen.params()
st.title("Campaigns")
st.caption(
    f"{chosen.describe()} · publications by publication day, redemptions by redemption day. "
    "Location and channel filters do not apply to campaign performance."
)

totals = db.query(queries.CAMPAIGN_TOTALS, params)
if w.empty(totals):
    st.stop()

st.subheader("Funnel: publication → redemption")
stages = totals[
    [
        "publications",
        "converted_publications",
        "redemption_attempts",
        "redemptions_succeeded",
        "redemptions_rolled_back",
    ]
].sum()


def funnel(labels: list[str], values: list) -> go.Figure:
    return go.Figure(go.Funnel(y=labels, x=values, texttemplate="%{value:,} (%{percentInitial:.1%})"))


left, right = st.columns(2)
with left:
    st.markdown("**Published vouchers**")
    w.chart(
        funnel(["Published", "Later redeemed"], [stages["publications"], stages["converted_publications"]]),
        "Publications (count)",
        "Stage",
    )
with right:
    st.markdown("**Redemption attempts**")
    w.chart(
        funnel(
            ["Attempted", "Succeeded", "Kept (not rolled back)"],
            [
                stages["redemption_attempts"],
                stages["redemptions_succeeded"] + stages["redemptions_rolled_back"],
                stages["redemptions_succeeded"],
            ],
        ),
        "Redemptions (count)",
        "Stage",
    )

st.subheader("Per campaign")
w.table(
    totals, "Campaign performance", money_columns=["discount_given", "revenue"], percent_columns=["conversion_rate"]
)

st.subheader("Discount given and revenue per campaign")
long = totals.rename(columns={"discount_given": "Discount given", "revenue": "Revenue"}).melt(
    id_vars="campaign_name", value_vars=["Discount given", "Revenue"], var_name="measure", value_name="amount"
)
fig = px.bar(long, x="campaign_name", y="amount", color="measure", barmode="group")
w.chart(fig, "Campaign", f"Amount ({w.MONEY_UNIT})")

st.subheader("Successful redemptions per day")
daily = db.query(queries.CAMPAIGN_DAILY, params)
fig = px.bar(daily, x="day", y="redemptions_succeeded", color="campaign_name")
w.chart(fig, w.UTC_DAY, "Successful redemptions (count)")
w.table(daily, "Campaign performance per day", money_columns=["discount_given", "revenue"])
