"""The CLI contract: --help everywhere, settings precedence, one-line errors with non-zero exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loyalty.errors import LoyaltyError
from loyalty.settings import WAREHOUSE_SCHEMAS, load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
COMMANDS = [
    [],
    ["generate"],
    ["ingest"],
    ["build"],
    ["run"],
    ["serve"],
    ["demo"],
    ["status"],
    ["pull"],
    ["pull", "voucherify"],
    ["receive"],
    ["init"],
]


def loyalty(*args: str, cwd: Path = REPO_ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")}
    full_env["COLUMNS"] = "200"  # rich wraps help at the terminal width
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "loyalty.cli", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "loyalty")
def test_every_command_has_help(command):
    result = loyalty(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_help_names_the_settings_environment_variables():
    out = loyalty("run", "--help").stdout
    assert "LOYALTY_LANDING" in out and "LOYALTY_WAREHOUSE" in out


def test_failure_is_one_line_without_traceback(tmp_path):
    result = loyalty("status", "--warehouse", str(tmp_path / "missing.duckdb"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


def test_unknown_option_is_a_usage_error():
    result = loyalty("ingest", "--no-such-flag")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_invalid_config_file_is_a_clear_error(tmp_path):
    (tmp_path / "loyalty.toml").write_text("warehouse = [unclosed\n")
    result = loyalty("status", cwd=tmp_path)
    assert result.returncode == 1
    assert "loyalty.toml: not valid TOML" in result.stderr
    assert "Traceback" not in result.stderr


class TestSettingsPrecedence:
    def test_defaults(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        settings = load_settings()
        assert settings.path("landing") == Path("data/landing")
        assert settings.path("warehouse") == Path("data/warehouse.duckdb")

    def test_file_overrides_default(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        (tmp_path / "loyalty.toml").write_text('warehouse = "from-file.duckdb"\nstale_after_hours = 6\n')
        settings = load_settings()
        assert settings.path("warehouse") == Path("from-file.duckdb")
        assert settings.get("stale_after_hours") == 6

    def test_environment_overrides_file(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        (tmp_path / "loyalty.toml").write_text('warehouse = "from-file.duckdb"\n')
        monkeypatch.setenv("LOYALTY_WAREHOUSE", "from-env.duckdb")
        monkeypatch.setenv("LOYALTY_STALE_AFTER_HOURS", "3")
        settings = load_settings()
        assert settings.path("warehouse") == Path("from-env.duckdb")
        assert settings.get("stale_after_hours") == 3

    def test_flag_overrides_environment(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("LOYALTY_WAREHOUSE", "from-env.duckdb")
        assert load_settings().path("warehouse", Path("from-flag.duckdb")) == Path("from-flag.duckdb")

    def test_unknown_key_in_file_is_rejected(self, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        (tmp_path / "loyalty.toml").write_text('warehose = "typo.duckdb"\n')
        with pytest.raises(LoyaltyError, match="unknown setting"):
            load_settings()

    def test_explicit_missing_config_is_an_error(self, tmp_path):
        with pytest.raises(LoyaltyError, match="does not exist"):
            load_settings(tmp_path / "nope.toml")

    def test_non_numeric_environment_value_is_an_error(self, monkeypatch):
        monkeypatch.setenv("LOYALTY_PORT", "eighty")
        with pytest.raises(LoyaltyError, match="whole number"):
            load_settings().get("port")


# File names whose DuckDB database name (up to the first dot) may or may not clash with a warehouse schema.
CANDIDATE_WAREHOUSE_NAMES = [
    "raw.duckdb",
    "Marts.db",
    "ops",
    "staging.duckdb.next",
    "intermediate.duckdb",
    "warehouse.duckdb",
    "raw_2026.duckdb",
    "my.raw.duckdb",
    "main.duckdb",
]


def test_the_warehouse_schemas_the_name_check_knows_are_those_a_built_warehouse_has(built_world):
    import duckdb

    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        built = con.execute(
            "select schema_name from information_schema.schemata where catalog_name = current_database()"
        ).fetchall()
    assert {name for (name,) in built} - {"main"} == set(WAREHOUSE_SCHEMAS)


def ambiguous_in_duckdb(path: Path) -> bool:
    """Independently of the rule: does a DuckDB file of this name, holding the warehouse's schemas, fail to
    resolve `schema.table`?"""
    import duckdb

    with duckdb.connect(str(path)) as con:
        try:
            for schema in WAREHOUSE_SCHEMAS:
                con.execute(f"create schema {schema}; create table {schema}.t (x int)")
            con.execute(" union all ".join(f"select x from {schema}.t" for schema in WAREHOUSE_SCHEMAS)).fetchall()
        except duckdb.BinderException:
            return True
    return False


@pytest.mark.parametrize("name", CANDIDATE_WAREHOUSE_NAMES)
def test_a_warehouse_name_duckdb_would_find_ambiguous_is_refused_and_no_other(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    refused = True
    try:
        load_settings().path("warehouse", tmp_path / name)
    except LoyaltyError as error:
        assert "choose another file name" in str(error)
    else:
        refused = False
    assert refused == ambiguous_in_duckdb(tmp_path / name)


def test_run_into_a_warehouse_named_like_a_schema_is_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "landing").mkdir()
    result = loyalty("run", "--landing", str(tmp_path / "landing"), "--warehouse", str(tmp_path / "raw.duckdb"))
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "like the warehouse's schema 'raw'" in lines[0], result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["landing"]
