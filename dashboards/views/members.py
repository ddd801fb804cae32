"""Members: tier distribution and movements, segments, RFM segments (each downloadable), computed traits and a member
lookup with the member's timeline."""

import plotly.express as px
import streamlit as st

from dashboards import db, filters, queries
from dashboards import widgets as w

CHANGE_TYPES = ["joined", "upgraded", "downgraded", "prolonged", "left"]

chosen = filters.current()
params = chosen.params()
st.title("Members")
st.caption(
    "Members are customers holding a loyalty card; figures are as of the latest build, all locations "
    "(tier movements follow the chosen period)."
)

st.subheader("Tier distribution")
tiers = db.query(queries.TIER_DISTRIBUTION)
if not w.empty(tiers, "No members yet."):
    fig = px.bar(tiers, x="tier", y="members")
    w.chart(fig, "Current tier", "Members (count)")
    w.table(tiers, "Tier distribution", money_columns=["average_lifetime_order_amount"])

st.subheader("Tier movements")
st.caption(f"{chosen.describe()} · only the period applies: tier changes have no location, campaign or channel.")
movements = db.query(queries.TIER_MOVEMENTS_DAILY, params)
if not w.empty(movements, "No tier changes in the selected period."):
    fig = px.bar(movements, x="day", y="changes", color="change_type", category_orders={"change_type": CHANGE_TYPES})
    w.chart(fig, w.UTC_DAY, "Tier changes (count)")
    w.table(db.query(queries.TIER_MOVEMENTS, params), "Tier movements")

st.subheader("Segments")
sizes = db.query(queries.SEGMENT_SIZES, params).iloc[0]
row = st.columns(len(queries.SEGMENTS))
for column, (key, (label, _)) in zip(row, queries.SEGMENTS.items()):
    column.metric(label, w.count(sizes[key]))
segment = st.selectbox(
    "List the members of", list(queries.SEGMENTS), format_func=lambda key: queries.SEGMENTS[key][0], key="segment"
)
w.table(
    db.query(queries.SEGMENT_MEMBERS, {**params, "segment": segment}),
    "Segment members",
    money_columns=["lifetime_order_amount"],
)

st.subheader("RFM segments")
st.caption(
    "Recency (days since the last paid order), frequency (paid orders) and monetary (lifetime paid amount) scored "
    "1-4 by quartile among members with a paid order (4 best), as of the latest build; each segment follows from the "
    "scores as docs/models.md maps them. Download a segment's members to target them in Voucherify or a campaign "
    "tool."
)
rfm = db.query(queries.RFM_SEGMENTS)
if not w.empty(rfm, "No members yet."):
    fig = px.bar(rfm, x="rfm_segment", y="members")
    w.chart(fig, "RFM segment", "Members (count)")
    w.table(rfm, "RFM segments", money_columns=["monetary"])
    picked = st.selectbox("Members of the segment", rfm["rfm_segment"].tolist(), key="rfm_segment")
    w.table(
        db.query(queries.RFM_SEGMENT_MEMBERS, {"rfm_segment": picked}),
        f"RFM segment {picked}",
        money_columns=["monetary"],
    )

st.subheader("Computed traits")
st.caption(
    "Defined in loyalty/dbt_project/macros/member_traits.sql (add one there and rebuild): a member has a yes/no "
    "trait when it is true, a numeric trait (purchase counts, amounts) when it is above zero."
)
columns = db.query(queries.TRAIT_COLUMNS)
traits = [
    (r.column_name, r.data_type) for r in columns.itertuples() if r.column_name not in queries.MEMBER_METRIC_COLUMNS
]
if not traits:
    st.info("This build defines no computed traits.")
else:
    w.table(db.query(queries.trait_sizes(traits)).drop(columns="position"), "Members per computed trait")
    names = [name for name, _ in traits]
    picked = st.selectbox("List the members having", names, key="trait")
    w.table(
        db.query(queries.trait_members(*traits[names.index(picked)])),
        f"Members with {picked}",
        money_columns=["lifetime_order_amount"],
    )

st.subheader("Member lookup")
needle = st.text_input("Customer id or email (or their beginning)", key="member_needle").strip()
if needle:
    matches = db.query(queries.MEMBER_SEARCH, {"needle": needle})
    if w.empty(matches, f"No member matches {needle!r}."):
        st.stop()
    customer = st.selectbox("Member", matches["customer_source_id"].tolist(), key="member_pick")
    profile = db.query(queries.MEMBER_PROFILE, {"customer": customer}).iloc[0]
    row = st.columns(4)
    row[0].metric("Current tier", profile["current_tier"] or "No tier")
    row[1].metric("Points balance", w.count(profile["points_balance"]))
    row[2].metric("Paid orders", w.count(profile["orders_count"]))
    row[3].metric("Lifetime order amount", w.money(profile["lifetime_order_amount"]))
    st.markdown(f"**Timeline of {customer}** (newest first; amounts in {w.MONEY_UNIT}, points signed)")
    w.table(db.query(queries.MEMBER_TIMELINE, {"customer": customer}), f"Timeline {customer}", money_columns=["amount"])
