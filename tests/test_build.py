"""`loyalty.build.build`: one in-process dbt build with per-node results, the file free afterwards, and a
one-line error naming what failed."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import duckdb
import pytest

from ingest import load_landing
from loyalty.build import BuildFailed, build, state_dir_for
from loyalty.errors import LoyaltyError


@pytest.fixture()
def sample_landing(sample_webhooks, tmp_path):
    landing = tmp_path / "landing"
    (landing / "voucherify" / "webhooks").mkdir(parents=True)
    shutil.copy(sample_webhooks, landing / "voucherify" / "webhooks" / "samples.ndjson")
    return landing


def test_build_reports_each_node_and_frees_the_file(sample_landing, tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    load_landing(sample_landing, warehouse, progress=False)

    result = build(warehouse, docs=True)

    by_name = {n.name: n for n in result.nodes}
    assert by_name["model.fct_redemptions"].status == "success"
    assert by_name["model.fct_redemptions"].seconds >= 0
    assert any(n.resource_type == "test" and n.status == "pass" for n in result.nodes)
    assert not result.failed
    # Another process can open the file for writing right away: no connection was left open.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
            "print(c.execute('select count(*) from marts.fct_redemptions').fetchone()[0])",
            str(warehouse),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert int(probe.stdout) == 4
    # dbt's target/ and logs/ are beside the warehouse, never in the (possibly installed, read-only) project.
    target = state_dir_for(warehouse) / "target"
    assert target == tmp_path / "dbt" / "target" and (tmp_path / "dbt" / "logs" / "dbt.log").is_file()
    # docs=True wrote the dbt docs site: the marts' columns and the nine dashboards as exposures.
    catalog = json.loads((target / "catalog.json").read_text())
    assert "discount_amount" in catalog["nodes"]["model.loyalty.fct_redemptions"]["columns"]
    manifest = json.loads((target / "manifest.json").read_text())
    assert {e["label"] for e in manifest["exposures"].values()} == {
        "Overview",
        "Redemptions",
        "Loyalty points",
        "Locations",
        "Campaigns",
        "Members",
        "Program economics",
        "Retention",
        "Data health",
    }


def test_failed_data_test_is_one_line_naming_the_node(sample_landing, tmp_path):
    """A transaction type nobody mapped to a movement must stop the build, not become silent nulls."""
    body = json.loads((sample_landing / "voucherify" / "webhooks" / "samples.ndjson").read_text().splitlines()[57])
    body["event"]["id"] = "ev_unknown_type"
    body["data"]["transaction"]["id"] = "vtx_unknown_type"
    body["data"]["transaction"]["type"] = "POINTS_TELEPORTED"
    (sample_landing / "voucherify" / "webhooks" / "odd.ndjson").write_text(json.dumps(body) + "\n")
    warehouse = tmp_path / "warehouse.duckdb"
    load_landing(sample_landing, warehouse, progress=False)

    with pytest.raises(BuildFailed) as failure:
        build(warehouse)

    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith("dbt build failed")
    assert "not_null_fct_loyalty_points_movement" in message
    assert str(state_dir_for(warehouse) / "logs" / "dbt.log") in message
    # The failure carries every node's result, for the run record.
    failed = failure.value.result.failed
    assert any(n.unique_id.startswith("test.loyalty.not_null_fct_loyalty_points_movement.") for n in failed)
    assert all(n.status == "fail" and n.message for n in failed)
    duckdb.connect(str(warehouse)).close()  # released even after a failure


def test_missing_warehouse_folder_is_a_clear_error(tmp_path):
    with pytest.raises(LoyaltyError, match="does not exist"):
        build(tmp_path / "nowhere" / "warehouse.duckdb")
