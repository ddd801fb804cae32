"""Overview: headline KPIs for the chosen period, each with its change against the previous period."""

import plotly.graph_objects as go
import streamlit as st

from dashboards import db, filters, queries
from dashboards import widgets as w

chosen = filters.current()
params = chosen.params()
st.title("Overview")
previous = chosen.previous()
st.caption(
    f"{chosen.describe()} · changes are against {previous.start:%Y-%m-%d} to {previous.end:%Y-%m-%d}. "
    "Amounts in currency units; orders are paid or fulfilled orders."
)


def by_period(sql: str) -> dict[str, dict]:
    frame = db.query(sql, params)
    return {row["period"]: row for row in frame.to_dict("records")}


orders = by_period(
    queries.orders_statement(
        queries.OVERVIEW_ORDERS, queries.OVERVIEW_ORDERS_BY_CAMPAIGN, chosen.campaign, chosen.channel
    )
)
customers_sql = queries.orders_statement(
    queries.OVERVIEW_CUSTOMERS, queries.OVERVIEW_CUSTOMERS_BY_CAMPAIGN, chosen.campaign, chosen.channel
)
customers = (
    db.query(customers_sql, params).iloc[0]["customers"],
    db.query(customers_sql, {**params, "start": params["prev_start"], "end": params["start"]}).iloc[0]["customers"],
)
redemptions = by_period(queries.OVERVIEW_REDEMPTIONS)
points = by_period(queries.OVERVIEW_POINTS)

if not orders.get("current") and not redemptions.get("current") and not points.get("current"):
    st.info(w.EMPTY_MESSAGE)
    st.stop()


def pair(rows: dict[str, dict], column: str) -> tuple:
    """(current, previous) for a KPI; previous is 0 when that period had no rows (so the delta shows)."""
    return rows.get("current", {}).get(column, 0), rows.get("previous", {}).get(column, 0)


row = st.columns(4)
w.kpi(row[0], "Revenue", *pair(orders, "revenue"), help="Sum of total_amount of paid orders")
w.kpi(row[1], "Paid orders", *pair(orders, "paid_orders"), formatter=w.count)
w.kpi(row[2], "Average order value", *pair(orders, "average_order_value"))
w.kpi(row[3], "Customers who ordered", *customers, formatter=w.count)

row = st.columns(4)
w.kpi(row[0], "Member share of orders", *pair(orders, "member_share"), formatter=w.percent)
w.kpi(row[1], "Successful redemptions", *pair(redemptions, "redemptions_succeeded"), formatter=w.count)
w.kpi(row[2], "Failed redemptions", *pair(redemptions, "redemptions_failed"), formatter=w.count, bad_when_up=True)
w.kpi(row[3], "Discount given", *pair(redemptions, "discount_given"), help="Discount of succeeded redemptions")

row = st.columns(4)
w.kpi(
    row[0],
    "Rolled-back redemptions",
    *pair(redemptions, "redemptions_rolled_back"),
    formatter=w.count,
    bad_when_up=True,
)
w.kpi(row[1], "Redemption failure rate", *pair(redemptions, "failure_rate"), formatter=w.percent, bad_when_up=True)
w.kpi(row[2], "Points earned", *pair(points, "points_earned"), formatter=w.count)
w.kpi(row[3], "Points burned", *pair(points, "points_burned"), formatter=w.count)

st.subheader("Revenue per day")
daily = db.query(
    queries.orders_statement(
        queries.OVERVIEW_DAILY, queries.OVERVIEW_DAILY_BY_CAMPAIGN, chosen.campaign, chosen.channel
    ),
    params,
)
if not w.empty(daily):
    fig = go.Figure(
        go.Bar(
            x=daily["day"], y=daily["revenue"], name="Revenue", hovertemplate="%{x|%Y-%m-%d}: %{y:,.2f}<extra></extra>"
        )
    )
    w.chart(fig, w.UTC_DAY, f"Revenue ({w.MONEY_UNIT})")
    w.table(daily, "Revenue per day", money_columns=["revenue"])
