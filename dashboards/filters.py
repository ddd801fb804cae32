"""The global filters (period, location, campaign, channel): sidebar widgets and their SQL parameters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import streamlit as st

from dashboards import db, queries

ALL = "All"
DEFAULT_PERIOD_DAYS = 30
_STATE_KEY = "global_filters"


@dataclass(frozen=True)
class Filters:
    start: dt.date  # first day, inclusive (UTC)
    end: dt.date  # last day, inclusive (UTC)
    location: str | None = None
    campaign: str | None = None
    channel: str | None = None

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The equally long period just before this one, same dimension filters."""
        length = dt.timedelta(days=self.days)
        return replace(self, start=self.start - length, end=self.end - length)

    def params(self) -> dict[str, Any]:
        """Named SQL parameters; see dashboards/queries.py for what each one means."""
        return {
            "start": _utc_midnight(self.start),
            "end": _utc_midnight(self.end + dt.timedelta(days=1)),
            "start_day": self.start,
            "end_day": self.end,
            "prev_start": _utc_midnight(self.previous().start),
            "location": self.location,
            "campaign": self.campaign,
            "channel": self.channel,
        }

    def describe(self) -> str:
        parts = [f"{self.start:%Y-%m-%d} to {self.end:%Y-%m-%d} (UTC)"]
        parts += [
            f"{name}: {value}"
            for name, value in (("location", self.location), ("campaign", self.campaign), ("channel", self.channel))
            if value
        ]
        return ", ".join(parts)


def _utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def data_range() -> tuple[dt.date, dt.date]:
    """First and last day of any fact (orders, redemptions, the points ledger, publications, tier changes, the
    daily aggregates); today when the warehouse is still empty."""
    row = db.query(queries.DATA_RANGE).iloc[0]
    if row.isna().any():
        today = dt.datetime.now(dt.UTC).date()
        return today, today
    return _as_date(row["first_day"]), _as_date(row["last_day"])


def _as_date(value: Any) -> dt.date:
    return value.date() if hasattr(value, "date") else value


def default_filters() -> Filters:
    """The last DEFAULT_PERIOD_DAYS days of data, all locations, campaigns and channels."""
    first, last = data_range()
    return Filters(start=max(first, last - dt.timedelta(days=DEFAULT_PERIOD_DAYS - 1)), end=last)


def _choices(sql: str) -> list[str]:
    return [ALL, *db.query(sql).iloc[:, 0].tolist()]


def sidebar() -> Filters:
    """Render the filters in the sidebar (once per run, from app.py) and remember them for the page."""
    first, last = data_range()
    default = default_filters()
    with st.sidebar:
        st.header("Filters")
        period = st.date_input(
            "Period (UTC days)",
            value=(default.start, default.end),
            min_value=first - dt.timedelta(days=365),
            max_value=last + dt.timedelta(days=365),
            key="filter_period",
        )
        location = st.selectbox("Location", _choices(queries.LOCATIONS), key="filter_location")
        campaign = st.selectbox("Campaign", _choices(queries.CAMPAIGNS), key="filter_campaign")
        channel = st.selectbox("Redemption channel", _choices(queries.CHANNELS), key="filter_channel")
    start, end = (period[0], period[-1]) if period else (default.start, default.end)
    chosen = Filters(
        start=start,
        end=end,
        location=None if location == ALL else location,
        campaign=None if campaign == ALL else campaign,
        channel=None if channel == ALL else channel,
    )
    st.session_state[_STATE_KEY] = chosen
    return chosen


def current() -> Filters:
    """The filters chosen in the sidebar for this run."""
    return st.session_state.get(_STATE_KEY) or default_filters()


def sample_params() -> dict[str, Any]:
    """A complete parameter set for every statement in queries.PAGE_QUERIES (the benchmark times with it):
    the default period, the busiest member, the biggest failure hot spot."""
    params = default_filters().params()
    busiest = db.query(
        "select customer_source_id from marts.dim_members "
        "order by orders_count desc nulls last, customer_source_id limit 1"
    )
    customer = busiest.iloc[0, 0] if len(busiest) else ""
    spots = db.query(queries.FAILED_HOT_SPOTS, {**params, "min_failed": 1})
    params.update(
        customer=spots.iloc[0]["customer_source_id"] if len(spots) else customer,
        spot_location=spots.iloc[0]["location_id"] if len(spots) else "",
        min_failed=3,
        segment="multi_store",
        rfm_segment="Champions",
        needle=customer[:4],
    )
    return params
