"""Data health: freshness per source, the last runs, rows loaded, rejected records, reconciliation mismatches."""

import streamlit as st

from dashboards import activation, db, queries
from dashboards import widgets as w

st.title("Data health")
st.caption("Not affected by the filters. Times in UTC.")

st.subheader("Freshness per source")
w.table(db.query_uncached(queries.SOURCE_FRESHNESS), "Freshness per source", empty_message="Nothing ingested yet.")

st.subheader("Last runs")
if db.has_table("ops", "runs"):
    runs = db.query(queries.LAST_RUNS)
    if not runs.empty:
        last = runs.iloc[0]
        row = st.columns(3)
        row[0].metric("Last run", str(last["outcome"]))
        row[1].metric("Started (UTC)", f"{last['started_at']:%Y-%m-%d %H:%M}")
        finished = last["finished_at"]
        row[2].metric("Finished (UTC)", "—" if w.missing(finished) else f"{finished:%Y-%m-%d %H:%M}")
    w.table(runs, "Runs", empty_message="No run recorded yet.")
else:
    st.info("No run records in this warehouse (it was not published by `loyalty run`).")

st.subheader("Rows loaded")
w.table(db.query(queries.ROWS_LOADED), "Rows loaded per source", empty_message="No file loaded yet.")
with st.expander("Latest ingest batches"):
    w.table(db.query(queries.INGEST_BATCHES), "Ingest batches", empty_message="No ingest batch recorded.")

st.subheader("Rejected records")
by_reason = db.query(queries.REJECTED_BY_REASON)
if by_reason.empty:
    st.success("No record was rejected.")
else:
    w.table(by_reason, "Rejected records by reason")
    w.table(db.query(queries.REJECTED_RECORDS), "Rejected records")

st.subheader("Reconciliation with Voucherify's own totals")
if not db.has_table("marts", "reconciliation"):
    st.info("No reconciliation yet: it needs a Voucherify customer export in the landing folder.")
else:
    summary = db.query(queries.RECONCILIATION_SUMMARY)
    if summary.empty:
        st.info("No customers to reconcile: the latest customer export is empty or missing.")
    else:
        mismatches = int(summary["mismatches"].sum())
        st.metric("Mismatched customer × metric pairs", w.count(mismatches))
        w.table(summary, "Reconciliation by metric", money_columns=["total_absolute_difference"])
        if mismatches:
            w.table(
                db.query(queries.RECONCILIATION_MISMATCHES),
                "Reconciliation mismatches",
                money_columns=["warehouse_value", "voucherify_value", "difference"],
            )

activation.section()
