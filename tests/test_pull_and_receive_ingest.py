"""What the connectors land is loadable: a landing folder filled by a pull and by the receiver ingests cleanly."""

from __future__ import annotations

import json

from fake_voucherify_api import FakeVoucherify
from test_pull import CAMPAIGN, FAST, make_export_rows, make_redemptions, make_transactions, quiet, settings_for
from test_receiver import SECRET, RunningReceiver, pretty, vendor_signature

from ingest.voucherify.api import pull
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
        pull(settings_for(fake, voucherify_exports="redemption"), landing=landing, base_url=fake.url, console=quiet(), **FAST)

    samples = [json.loads(line) for line in sample_webhooks.read_text(encoding="utf-8").splitlines() if line.strip()]
    with RunningReceiver(create_app(landing, SECRET, 1 << 20), landing) as receiver:
        for payload in samples:
            assert receiver.post(pretty(payload), vendor_signature(payload)).status_code == 200
        first = load_landing(landing, warehouse)
        assert first.rejected_total == 0
        # Every landed data file is picked up; only the pull's bookkeeping is left aside.
        assert sorted(s.rel for s in first.skipped) == ["voucherify/_state/pull.lock", "voucherify/_state/pull_state.json"]
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
