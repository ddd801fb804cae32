"""What the connectors land is loadable: a landing folder filled by a pull and by the receiver ingests cleanly."""

from __future__ import annotations

import json

import pytest
from fake_voucherify_api import FakeVoucherify
from test_pull import CAMPAIGN, make_export_rows, make_redemptions, make_transactions, pull_from
from test_receiver import SECRET, RunningReceiver, pretty, vendor_signature

from ingest.voucherify.receiver import create_app


def test_pulled_and_received_files_ingest_without_rejections(tmp_path, sample_webhooks):
    from ingest import load_landing

    landing = tmp_path / "landing"
    warehouse = tmp_path / "warehouse.duckdb"
    with FakeVoucherify(
        redemptions=make_redemptions(250),
        loyalty_transactions={CAMPAIGN: make_transactions(35)},
        export_rows={"redemption": make_export_rows(25)},
        rows_per_file=10,
        max_page=3,
    ) as fake:
        pull_from(fake, landing, exports=["redemption"])

    samples = [json.loads(line) for line in sample_webhooks.read_text(encoding="utf-8").splitlines() if line.strip()]
    with RunningReceiver(create_app(landing, SECRET, 1 << 20), landing) as receiver:
        for payload in samples:
            assert receiver.post(pretty(payload), vendor_signature(payload)).status_code == 200
        first = load_landing(landing, warehouse)
        assert first.rejected_total == 0
        # Every landed data file is picked up; the pull's bookkeeping (voucherify/_state/) is not even listed as
        # skipped.
        assert first.skipped == []
        data_files = [p for p in landing.rglob("*") if p.suffix in {".csv", ".ndjson"}]
        assert first.files_seen == len(data_files) > 3 + 25 + 4 + 1  # CSVs, ≥ 25 + 4 pages, one webhook file
        # The receiver keeps appending to the file ingest already loaded: the next ingest reloads it whole.
        for payload in samples[:5]:
            assert receiver.post(pretty(payload), vendor_signature(payload)).status_code == 200
    second = load_landing(landing, warehouse)
    assert second.rejected_total == 0

    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        api = dict(con.execute("select endpoint, count(*) from raw.voucherify_api_objects group by 1").fetchall())
        assert api == {"redemptions": 250, "loyalty_transactions": 35}
        assert con.execute(
            "select count(distinct object_id), min(created_at) is not null from raw.voucherify_api_objects"
        ).fetchone() == (285, True)
        webhooks = con.execute("select count(*), count(distinct event_id) from raw.voucherify_webhooks").fetchone()
        assert webhooks[0] == len(samples) + 5
        exports = con.execute(
            "select exported_object, count(*), count(distinct record_id) from raw.voucherify_exports group by 1"
        ).fetchall()
        assert exports == [("redemption", 25, 25)]
        assert con.execute("select count(*) from raw.rejected_records").fetchone() == (0,)


@pytest.mark.slow
def test_pulled_vendor_objects_reach_the_marts(tmp_path, sample_webhooks):
    """The vendor's own redemption and loyalty transaction, served by the API, end up as mart rows."""
    from loyalty.run import run

    samples = [json.loads(line) for line in sample_webhooks.read_text(encoding="utf-8").splitlines() if line.strip()]
    redemption = next(s for s in samples if s["type"] == "redemption.succeeded")["data"]["redemption"]
    transaction = next(s for s in samples if s["type"] == "voucher.loyalty_card.transaction.created")["data"][
        "transaction"
    ]
    landing = tmp_path / "landing"
    card = next(s for s in samples if s["type"] == "voucher.loyalty_card.transaction.created")["data"]
    # The voucher export is what ties a pulled transaction's card to its holder.
    voucher_row = {
        "id": card["voucher"]["id"],
        "code": card["voucher"]["code"],
        "voucher_type": "LOYALTY_CARD",
        "campaign": card["voucher"]["campaign"],
        "campaign_id": card["voucher"]["campaign_id"],
        "customer_id": card["holder"]["id"],
        "customer_source_id": card["holder"]["source_id"],
        "created_at": transaction["created_at"],
    }
    # Pull-only users get orders from the order export (the objects above only reference them).
    order_rows = [
        {
            "id": order_id,
            "source_id": "",
            "created_at": created_at,
            "updated_at": "",
            "status": "PAID",
            "amount": "7000",
            "discount_amount": "",
            "items_discount_amount": "",
            "total_discount_amount": "1000",
            "total_amount": "6000",
            "customer_id": card["holder"]["id"],
            "referrer_id": "",
            "metadata.location_id": "Paris",
        }
        for order_id, created_at in [
            (redemption["order"]["id"], redemption["date"]),
            (transaction["details"]["order"]["id"], transaction["created_at"]),
        ]
    ]
    customer_rows = [
        {
            "id": customer_id,
            "source_id": source_id,
            "email": "",
            "name": "",
            "created_at": transaction["created_at"],
            "redemptions_total_succeeded": "1",
            "redemptions_total_failed": "0",
            "redemptions_total_rolled_back": "0",
            "orders_total_amount": "12000",
            "orders_total_count": "2",
            "loyalty_points": "210",
        }
        for customer_id, source_id in [
            (card["holder"]["id"], card["holder"]["source_id"]),
            (redemption["customer_id"], "src-redeemer"),
        ]
    ]
    with FakeVoucherify(
        redemptions=[redemption],
        loyalty_transactions={transaction["campaign_id"]: [transaction]},
        export_rows={"voucher": [voucher_row], "order": order_rows, "customer": customer_rows},
    ) as fake:
        pull_from(fake, landing, exports=["voucher", "order", "customer"])
    warehouse = tmp_path / "warehouse.duckdb"
    run(landing, warehouse, full_refresh=False, as_json=False)

    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select redemption_id, result, status from marts.fct_redemptions").fetchall() == [
            (redemption["id"], "SUCCESS", "SUCCEEDED")
        ]
        assert con.execute(
            "select transaction_id, movement, points, customer_source_id from marts.fct_loyalty_points"
        ).fetchall() == [
            (transaction["id"], "earned", transaction["details"]["balance"]["points"], card["holder"]["source_id"])
        ]
