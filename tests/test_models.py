"""dbt models on real inputs: the vendor's own sample webhooks land in the right marts, the dbt unit tests
pass, and an incremental build after new data equals a full refresh."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from ingest import load_landing
from loyalty.build import build
from tests.mart_compare import canonical, differences, mart_rows

MARTS = {
    "marts.fct_redemptions": ["redemption_id"],
    "marts.fct_orders": ["order_id"],
    "marts.fct_loyalty_points": ["transaction_id"],
    "marts.fct_publications": ["publication_id"],
    "marts.dim_members": ["customer_source_id"],
    "marts.agg_location_daily": ["day", "location_id"],
    "marts.fct_campaign_performance": ["campaign_name", "day"],
    "marts.reconciliation": ["customer_source_id", "metric"],
    "marts.fct_validations": ["validation_id"],
    "marts.agg_member_lift_monthly": ["month", "location_id"],
    "marts.agg_program_daily": ["day"],
    "marts.agg_points_cohorts": ["earn_month"],
    "marts.fct_member_cohorts": ["join_month", "months_since_joining"],
}


@pytest.fixture(scope="module")
def sample_warehouse(sample_webhooks, tmp_path_factory) -> Path:
    """The shared vendor sample webhooks, ingested and built on their own."""
    root = tmp_path_factory.mktemp("sample")
    landing = root / "landing"
    (landing / "voucherify" / "webhooks").mkdir(parents=True)
    shutil.copy(sample_webhooks, landing / "voucherify" / "webhooks" / "samples.ndjson")
    warehouse = root / "warehouse.duckdb"
    load_landing(landing, warehouse, progress=False)
    build(warehouse)
    return warehouse


@pytest.fixture(scope="module")
def sample_bodies(sample_webhooks) -> list[dict]:
    return [json.loads(line) for line in sample_webhooks.read_text(encoding="utf-8").splitlines() if line.strip()]


def _event_type(body: dict) -> str:
    return (body.get("event") or {}).get("type") or body["type"]


def _query(warehouse: Path, sql: str, *params):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_every_sample_line_is_loaded_and_none_rejected(sample_warehouse, sample_bodies):
    assert _query(sample_warehouse, "select count(*) from raw.voucherify_webhooks")[0][0] == len(sample_bodies)
    assert _query(sample_warehouse, "select count(*) from raw.rejected_records")[0][0] == 0


def test_sample_redemptions_land_in_fct_redemptions(sample_warehouse, sample_bodies):
    expected = set()
    for body in sample_bodies:
        if _event_type(body).startswith(("redemption.", "customer.redemption.")):
            expected.add(body["data"]["redemption"]["id"])
    rows = {
        r[0]: r[1:]
        for r in _query(
            sample_warehouse,
            "select redemption_id, status, discount_amount, rolled_back_at, customer_source_id "
            "from marts.fct_redemptions",
        )
    }
    assert set(rows) == expected
    # Distribution webhooks of a redemption and its later rollback: one row, rolled back, own discount in currency.
    status, discount, rolled_back_at, customer = rows["r_0e6ff48b91cfa02e97"]
    assert (status, canonical(discount), canonical(rolled_back_at), customer) == (
        "ROLLED_BACK",
        "11.5",
        "2024-03-14T09:11:53.787Z",
        "jck-wbhk",
    )
    assert rows["rf_0e3ac5685ba431c104"][:2] == ("FAILED", 0)
    assert rows["r_0e2500291ae016adea"][0] == "SUCCEEDED"
    # Rollback objects are not redemptions.
    assert not any(rid.startswith("rr") for rid in rows)


def test_sample_orders_land_in_fct_orders_with_latest_status(sample_warehouse, sample_bodies):
    expected = {body["data"]["order"]["id"] for body in sample_bodies if (body["data"].get("order") or {}).get("id")}
    rows = {
        r[0]: r[1:]
        for r in _query(sample_warehouse, "select order_id, status, location_id, total_amount from marts.fct_orders")
    }
    assert set(rows) == expected
    # created → paid → updated → canceled deliveries of one order: the latest wins.
    assert rows["ord_jM5GdBe4OO3ExFrVSlEWLORP"][0] == "CANCELED"
    # The store comes from order.metadata.location.
    assert rows["ord_0f1ad36a828d1c7c5f"][1] == "Katowice"
    # A redemption's order and the same order after its rollback: the later snapshot (canceled) wins.
    assert rows["ord_p6B1A0y805yUQQaCw4bC6Fbk"][0] == "CANCELED"


def test_sample_loyalty_transactions_land_in_the_ledger(sample_warehouse, sample_bodies):
    expected = {}
    for body in sample_bodies:
        tx = body["data"].get("transaction")
        if tx and not tx["type"].startswith("CREDITS_"):
            points = ((tx.get("details") or {}).get("balance") or {}).get("points")
            if points is None:
                points = body["data"]["balance"]["points"]
            expected[tx["id"]] = points
    rows = dict(_query(sample_warehouse, "select transaction_id, points from marts.fct_loyalty_points"))
    assert rows == expected
    # Gift-card credits are money on a gift card, not points.
    assert not _query(sample_warehouse, "select 1 from marts.fct_loyalty_points where transaction_type like 'CREDITS%'")


def test_sample_publications_tiers_and_members(sample_warehouse, sample_bodies):
    expected = {
        body["data"]["publication"]["id"] for body in sample_bodies if (body["data"].get("publication") or {}).get("id")
    }
    assert {r[0] for r in _query(sample_warehouse, "select publication_id from marts.fct_publications")} == expected
    members = dict(_query(sample_warehouse, "select customer_source_id, current_tier from marts.dim_members"))
    assert "jck-wbhk" in members  # was published a loyalty card (voucher.published)
    # joined (silver) → left (gold) → downgraded to silver, by event time: the latest change is the downgrade.
    assert members["4lx-d03"] == "Loyal silver"


def test_dbt_unit_tests_pass(sample_warehouse, monkeypatch):
    """The `unit_tests:` in models/ (stack parents, rollbacks, null status, legacy envelope, cents, duplicate
    channels) run on fixed inputs; scheduled builds skip them, so they run here (`dbt test`, since
    `dbt build` runs unit tests only together with their models)."""
    from dbt.cli.main import dbtRunner

    from loyalty.build import PROJECT_DIR, close_connections

    monkeypatch.setenv("LOYALTY_WAREHOUSE", str(sample_warehouse))
    try:
        outcome = dbtRunner().invoke(
            [
                "test",
                "--select",
                "test_type:unit",
                "--project-dir",
                str(PROJECT_DIR),
                "--profiles-dir",
                str(PROJECT_DIR),
                "--quiet",
            ]
        )
    finally:
        close_connections()
    results = outcome.result.results
    assert len(results) >= 6
    assert all(str(getattr(r.status, "value", r.status)) == "pass" for r in results), [
        (r.node.name, r.status) for r in results
    ]


def _landing_without_late_files(full: Path, dest: Path) -> Path:
    """The same world with files held back: late redeliveries, the newest exports and Segment loads, and every
    file carrying one loyalty transaction from the middle of a card's history, so the ledger has a gap."""
    shutil.copytree(full, dest, ignore=shutil.ignore_patterns("ground_truth"))
    shutil.rmtree(dest / "voucherify" / "webhooks" / "late", ignore_errors=True)
    for folder in (dest / "voucherify" / "exports").iterdir():
        files = sorted(folder.glob("*.csv"))
        for path in files[len(files) // 2 :]:
            path.unlink()
    for path in (dest / "segment" / "warehouse").rglob("load_00[3-9]*"):
        path.unlink()
    _drop_everywhere(dest / "voucherify", _a_mid_history_transaction(full / "ground_truth" / "loyalty_points.csv"))
    return dest


def _a_mid_history_transaction(ledger_csv: Path) -> str:
    by_card: dict[str, list[str]] = {}
    with ledger_csv.open(newline="") as fh:
        for row in csv.DictReader(fh):
            by_card.setdefault(row["customer_source_id"], []).append(row["transaction_id"])
    history = max(by_card.values(), key=len)
    assert len(history) >= 3
    return history[len(history) // 2]


def _drop_everywhere(folder: Path, text: str) -> None:
    """Hold back every Voucherify file mentioning `text` (whole files: a landed file never changes)."""
    for path in folder.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            if text.encode() in (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw):
                path.unlink()


def _all_marts(warehouse: Path) -> dict[str, list[dict]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        out = {}
        for mart in MARTS:
            columns = [r[0] for r in con.execute(f"describe {mart}").fetchall()]
            out[mart] = mart_rows(con, mart, columns)
        return out


@pytest.mark.slow
def test_incremental_build_after_new_data_equals_full_refresh(generated_landing, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    partial = _landing_without_late_files(generated_landing, tmp_path / "partial")
    load_landing(partial, warehouse, progress=False)
    first_build = build(warehouse)
    first = _all_marts(warehouse)

    load_landing(generated_landing, warehouse, progress=False)  # the held-back files arrive
    second_build = build(warehouse)
    incremental = _all_marts(warehouse)
    assert incremental != first, "the held-back files changed nothing: the test would prove nothing"
    # The ledger check warns while held-back transactions leave gaps in a card's history, passes once they land.
    ledger_check = "test.assert_points_ledger_sums_to_card_balance"
    assert {n.name: n.status for n in first_build.nodes}[ledger_check] == "warn"
    assert {n.name: n.status for n in second_build.nodes}[ledger_check] == "pass"

    refreshed = tmp_path / "refreshed.duckdb"
    shutil.copy(warehouse, refreshed)
    build(refreshed, full_refresh=True)
    full = _all_marts(refreshed)
    for mart, key in MARTS.items():
        assert differences(full[mart], incremental[mart], key) == [], mart
