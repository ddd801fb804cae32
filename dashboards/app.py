"""Loyalty dashboards: `streamlit run dashboards/app.py` (or `loyalty serve`). Reads LOYALTY_WAREHOUSE read-only."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import db, filters

HERE = Path(__file__).parent
# Pages live in views/, not pages/: a pages/ folder beside the entry script switches Streamlit into its legacy
# multipage mode, which runs a page file without this script (no filters) on a process's first request
# and in every AppTest run.

PAGES = [
    st.Page(HERE / "views" / "overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page(HERE / "views" / "redemptions.py", title="Redemptions", icon=":material/redeem:"),
    st.Page(HERE / "views" / "loyalty_points.py", title="Loyalty points", icon=":material/loyalty:"),
    st.Page(HERE / "views" / "program_economics.py", title="Program economics", icon=":material/savings:"),
    st.Page(HERE / "views" / "retention.py", title="Retention", icon=":material/event_repeat:"),
    st.Page(HERE / "views" / "locations.py", title="Locations", icon=":material/store:"),
    st.Page(HERE / "views" / "campaigns.py", title="Campaigns", icon=":material/campaign:"),
    st.Page(HERE / "views" / "members.py", title="Members", icon=":material/group:"),
    st.Page(HERE / "views" / "data_health.py", title="Data health", icon=":material/monitor_heart:"),
]

st.set_page_config(page_title="Loyalty analytics", page_icon=":material/loyalty:", layout="wide")
page = st.navigation(PAGES)

path = db.warehouse_path()
if db.published_version(path) is None:
    st.warning(f"No warehouse published at `{path}` yet. Run `loyalty run` (or `loyalty demo`), then reload.")
    st.stop()
if not db.has_table("marts", "fct_orders"):
    st.warning(f"The warehouse at `{path}` has no marts yet. Run `loyalty run` to build them, then reload.")
    st.stop()

filters.sidebar()
page.run()
