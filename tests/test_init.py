"""`loyalty init`: the files of a user's own project, never overwriting, and settings that find it from anywhere.

The project building end to end from an installed wheel is tests/test_wheel.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from loyalty.build import PROJECT_DIR
from loyalty.errors import LoyaltyError
from loyalty.init import init, project_name
from loyalty.settings import load_settings


def test_init_writes_a_project_that_uses_the_installed_models_as_a_local_package(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "init", str(tmp_path / "acme-loyalty")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    project = tmp_path / "acme-loyalty"
    assert {p.relative_to(project).as_posix() for p in project.rglob("*")} == {
        ".gitignore",
        "dbt_project.yml",
        "loyalty.toml",
        "macros",
        "macros/generate_schema_name.sql",
        "models",
        "packages.yml",
        "profiles.yml",
        "tests",
    }
    assert "name: acme_loyalty\n" in (project / "dbt_project.yml").read_text()
    assert f"'{PROJECT_DIR.as_posix()}'" in (project / "packages.yml").read_text()
    assert (project / "profiles.yml").read_text() == (PROJECT_DIR / "profiles.yml").read_text()
    assert tomllib.loads((project / "loyalty.toml").read_text())["dbt_project"] == "."


def test_init_never_overwrites_a_file(tmp_path):
    (tmp_path / "dbt_project.yml").write_text("name: mine\n")
    with pytest.raises(LoyaltyError, match="never overwrites"):
        init(tmp_path)
    assert (tmp_path / "dbt_project.yml").read_text() == "name: mine\n"
    assert not (tmp_path / "packages.yml").exists()


@pytest.mark.parametrize(
    ("folder", "name"), [("Acme Shop", "acme_shop"), ("2025", "loyalty_2025"), ("loyalty", "my_loyalty")]
)
def test_project_name_is_a_dbt_identifier_other_than_the_package(tmp_path, folder, name):
    assert project_name(tmp_path / folder) == name


def test_relative_paths_in_loyalty_toml_are_relative_to_the_file(tmp_path, monkeypatch):
    init(tmp_path / "shop")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(Path("shop/loyalty.toml"))
    assert settings.path("dbt_project") == Path("shop")
    assert settings.path("warehouse") == Path("shop/data/warehouse.duckdb")
    assert settings.path("warehouse", Path("elsewhere.duckdb")) == Path("elsewhere.duckdb")  # a flag: the cwd's


def test_without_a_project_setting_the_shipped_project_builds(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings().path("dbt_project") is None


def test_a_user_project_gets_the_packages_overrides_of_dbt_macros(tmp_path):
    """dbt looks for overrides of its own macros only where `dispatch` says: a user's project must still get the
    package's try_cast, so a malformed timestamp (the vendor's own samples have one) becomes a null instead of
    failing every query of the model."""
    from ingest import load_landing
    from loyalty.build import build

    project = tmp_path / "shop"
    init(project)
    delivery = {
        "id": "whs_1",
        "type": "customer.order.paid",
        "source": {"id": "distr_1", "object": "distribution"},
        "event": {"id": "ev_1", "type": "customer.order.paid", "created_at": "2024-05-01T10:00:00Z"},
        "data": {"order": {"id": "ord_1", "status": "PAID", "amount": 1150, "created_at": "12: 25: 59.620Z"}},
    }
    webhooks = tmp_path / "landing/voucherify/webhooks/deliveries.ndjson"
    webhooks.parent.mkdir(parents=True)
    webhooks.write_text(json.dumps(delivery) + "\n")
    warehouse = tmp_path / "warehouse.duckdb"
    assert load_landing(tmp_path / "landing", warehouse).rejected_total == 0
    build(warehouse, project_dir=project, select="stg_voucherify__webhook_deliveries stg_voucherify__webhook_orders")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("select order_id, amount, created_at from staging.stg_voucherify__webhook_orders").fetchall()
    assert rows == [("ord_1", Decimal("11.50"), None)]
