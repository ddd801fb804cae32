"""Retention: how each join-month cohort keeps ordering, and how fast members redeem their first points."""

import plotly.express as px
import streamlit as st

from dashboards import db, filters, queries
from dashboards import widgets as w

chosen = filters.current()
params = chosen.params()
st.title("Retention")
st.caption(
    f"{chosen.describe()} · cohorts are members by the month they joined (months overlapping the period); a member "
    "is active in a month with a paid order placed as a member. Location, campaign and channel filters do not apply."
)

cohorts = db.query(queries.COHORT_RETENTION, params)
if w.empty(cohorts):
    st.stop()
cohorts["join_month"] = w.months(cohorts["join_month"])
row = st.columns(3)
sizes = cohorts.drop_duplicates("join_month")
w.kpi(row[0], "Members in these cohorts", sizes["cohort_size"].sum(), formatter=w.count)
first_month = cohorts[cohorts["months_since_joining"] == 0]
w.kpi(
    row[1],
    "Active in their join month",
    first_month["active_members"].sum() / sizes["cohort_size"].sum(),
    formatter=w.percent,
)
w.kpi(row[2], "Revenue as members", cohorts["revenue"].sum())

st.subheader("Cohort retention")
heat = cohorts.pivot(index="join_month", columns="months_since_joining", values="retention")
fig = px.imshow(heat.astype(float), text_auto=".0%", aspect="auto", color_continuous_scale="Blues", zmin=0, zmax=1)
fig.update_xaxes(type="category")
fig.update_yaxes(type="category")
w.chart(fig, "Months since joining", "Join month (UTC)")
w.table(
    cohorts,
    "Cohort retention",
    money_columns=["revenue", "cumulative_revenue"],
    percent_columns=["retention"],
)

st.subheader("Time to first redemption")
summary = db.query(queries.FIRST_REDEMPTION_SUMMARY, params).iloc[0]
row = st.columns(3)
w.kpi(row[0], "Members who joined in the period", summary["members_joined"], formatter=w.count)
w.kpi(row[1], "Of them, redeemed points", summary["members_redeemed"], formatter=w.count)
median = summary["median_days_to_first_redemption"]
row[2].metric("Median days to first redemption", "—" if w.missing(median) else f"{float(median):.1f}")
buckets = db.query(queries.FIRST_REDEMPTION_BUCKETS, params)
if not w.empty(buckets, "No member joined in this period."):
    fig = px.bar(buckets, x="bucket", y="members")
    w.chart(fig, "Days from joining to the first redemption", "Members (count)")
    w.table(buckets, "Members by days to first redemption")
st.caption("Per join month, the share of the cohort whose first redemption came within 90 days of joining.")
within = db.query(queries.REDEEMED_WITHIN_90_DAYS, params)
within["join_month"] = w.months(within["join_month"])
w.table(
    within,
    "Redeemed within 90 days per join month",
    percent_columns=["redeemed_within_90_days_share"],
)
