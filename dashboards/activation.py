"""The Activation section of the Data health page: what `loyalty push voucherify` sent back to Voucherify."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from dashboards import db, queries
from dashboards import widgets as w
from loyalty.push.log import push_log_path_for


def section() -> None:
    st.subheader("Activation: pushes to Voucherify")
    if not db.has_table("marts", "activation_reward_rules"):
        st.info("This warehouse has no activation marts yet: `loyalty run` builds them.")
        return
    # The log beside the warehouse is current; the ops tables of a build end at the run that built it.
    log = push_log_path_for(db.warehouse_path())
    from_log = log.exists() or not db.has_table("ops", "push_runs")
    params = {"push_log": str(log) if log.exists() else os.devnull} if from_log else {}

    def push_query(sql: str, **extra) -> pd.DataFrame:
        return db.query_uncached(queries.activation_statement(sql, from_log), params | extra)

    pushes = push_query(queries.LAST_PUSHES)
    updated = push_query(queries.CUSTOMERS_UPDATED).iloc[0]
    row = st.columns(3)
    row[0].metric("Last push", str(pushes.iloc[0]["outcome"]) if len(pushes) else "—")
    row[1].metric("Customers updated (all pushes)", w.count(updated["customers_updated"]))
    row[2].metric("Customers updated (last push)", w.count(updated["customers_updated_last_push"]))
    w.table(pushes, "Pushes", empty_message="No push yet: run `loyalty push voucherify` or `loyalty run --push`.")
    if len(pushes) and (pushes["outcome"] == "running").any():
        st.caption("A push shown as running whose process is gone was killed; the next `loyalty run` records it.")

    rules = push_query(queries.REWARDS_PER_RULE)
    w.table(rules, "Rewards published per rule", empty_message="No reward rule in macros/reward_rules.sql.")
    w.table(push_query(queries.PUSH_FAILURES), "Push failures", empty_message="No customer waits on a failed push.")
    for rule in rules["rule_name"]:
        with st.expander(f"Members qualifying for {rule}"):
            w.table(
                push_query(queries.RULE_QUALIFIERS, rule=rule),
                f"Qualifying members {rule}",
                money_columns=["lifetime_order_amount"],
                empty_message="Nobody qualifies in this build.",
            )
