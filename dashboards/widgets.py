"""Shared building blocks so every page formats money, tables, charts and empty periods the same way."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

EMPTY_MESSAGE = "No data for the selected period and filters."
MONEY_UNIT = "currency units"
UTC_DAY = "Day (UTC)"


def money(value: Any) -> str:
    """Money to the cent with thousands separators: 1,234.50."""
    return f"{_number(value):,.2f}"


def count(value: Any) -> str:
    return f"{int(round(_number(value))):,}"


def percent(value: Any) -> str:
    return "n/a" if missing(value) else f"{float(value) * 100:.1f}%"


def missing(value: Any) -> bool:
    """None, NaN, NA or NaT: a value the warehouse does not have."""
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


def _number(value: Any) -> float:
    return 0.0 if missing(value) else float(value)


def delta(current: Any, previous: Any, formatter=money) -> str | None:
    """Change against the previous period, absolute and relative; None when there is nothing to compare."""
    if missing(previous):
        return None
    change = _number(current) - _number(previous)
    if formatter is percent:  # a change of a share is in percentage points
        return f"{change * 100:+.1f} pp"
    sign = "+" if change >= 0 else "-"
    text = f"{sign}{formatter(abs(change))}"
    if _number(previous):
        text += f" ({change / _number(previous) * 100:+.1f}%)"
    return text


def kpi(
    column, label: str, current: Any, previous: Any = None, formatter=money, help: str | None = None, bad_when_up=False
) -> None:
    """A headline figure; with `previous`, its change against the previous period (red when it got worse)."""
    column.metric(
        label,
        formatter(current),
        delta(current, previous, formatter),
        help=help,
        delta_color="inverse" if bad_when_up else "normal",
    )


def empty(df: pd.DataFrame, message: str = EMPTY_MESSAGE) -> bool:
    """Say so when a result is empty, instead of drawing a blank chart; returns True when it was empty."""
    if df.empty:
        st.info(message)
        return True
    return False


def table(
    df: pd.DataFrame,
    name: str,
    money_columns: Iterable[str] = (),
    percent_columns: Iterable[str] = (),
    empty_message: str = EMPTY_MESSAGE,
) -> None:
    """A table with money to the cent and a CSV download of exactly what is shown."""
    if empty(df, empty_message):
        return
    money_columns = [c for c in money_columns if c in df.columns]
    percent_columns = [c for c in percent_columns if c in df.columns]
    config = {c: st.column_config.NumberColumn(_title(c), format="%.2f") for c in money_columns}
    config |= {c: st.column_config.NumberColumn(_title(c), format="percent") for c in percent_columns}
    # DuckDB hands DATE columns to pandas as midnight timestamps: show and export them as dates.
    day_columns = [c for c in df.columns if c == "day"]
    config |= {c: st.column_config.DateColumn(UTC_DAY, format="YYYY-MM-DD") for c in day_columns}
    config |= {c: _title(c) for c in df.columns if c not in config}
    st.dataframe(df, hide_index=True, width="stretch", column_config=config)
    export = df.copy()
    for column in money_columns:
        export[column] = export[column].map(lambda v: "" if missing(v) else f"{float(v):.2f}")
    for column in day_columns:
        export[column] = pd.to_datetime(export[column]).dt.strftime("%Y-%m-%d")
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    st.download_button(
        f"Download {name} (CSV)",
        export.to_csv(index=False).encode(),
        file_name=f"{slug}.csv",
        mime="text/csv",
        key=f"download_{slug}",
        on_click="ignore",
    )


def months(column: pd.Series) -> pd.Series:
    """A column of first-of-month dates as "2026-11" (shown, charted and exported as the month it stands for)."""
    return pd.to_datetime(column).dt.strftime("%Y-%m")


_TITLES = {"location_id": "Location", "customer_source_id": "Customer", "campaign_name": "Campaign"}


def _title(column: str) -> str:
    return _TITLES.get(column) or column.replace("_", " ").capitalize()


def chart(fig: go.Figure, x_title: str, y_title: str) -> None:
    """Show a plotly chart with both axes labelled (units in the titles)."""
    fig.update_layout(
        xaxis_title=x_title,
        yaxis_title=y_title,
        margin=dict(l=10, r=10, t=40, b=10),
        legend_title_text="",
        hovermode="x unified",
    )
    st.plotly_chart(fig, width="stretch")
