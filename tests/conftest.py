"""Shared fixtures: one small generated world, ingested and built once per test session."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
SAMPLE_WEBHOOKS = SHARED / "samples" / "voucherify" / "webhooks.ndjson"

# Small enough for seconds, large enough that every event kind and failure code occurs.
WORLD_CUSTOMERS = 120
WORLD_DAYS = 30
WORLD_SEED = 7


@dataclass(frozen=True)
class BuiltWorld:
    landing: Path
    warehouse: Path
    truth_dir: Path

    @property
    def summary(self) -> dict:
        return json.loads((self.truth_dir / "summary.json").read_text())

    def connect(self) -> duckdb.DuckDBPyConnection:
        return duckdb.connect(str(self.warehouse), read_only=True)


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


@pytest.fixture(scope="session")
def sample_webhooks() -> Path:
    """The vendor sample payloads kept beside the repository (../shared), not inside it.

    A fresh clone has no ../shared: its tests are skipped with the reason shown in the summary (-ra).
    Under CI=true the folder is part of the set-up, so its absence fails the test instead.
    """
    if not SAMPLE_WEBHOOKS.exists():
        reason = f"vendor sample payloads not found at {SAMPLE_WEBHOOKS} (kept beside the repository, not in it)"
        if running_in_ci():
            pytest.fail(f"{reason}; CI=true requires them", pytrace=False)
        pytest.skip(reason)
    return SAMPLE_WEBHOOKS


@pytest.fixture(scope="session")
def generated_landing(tmp_path_factory) -> Path:
    """A generated landing folder (with ground_truth/); tests must not modify it."""
    from loyalty.generate import generate_world

    out = tmp_path_factory.mktemp("world") / "landing"
    generate_world(out=out, customers=WORLD_CUSTOMERS, days=WORLD_DAYS, seed=WORLD_SEED)
    return out


@pytest.fixture(scope="session")
def built_world(generated_landing, tmp_path_factory) -> BuiltWorld:
    """The generated world ingested and built with one dbt build, published like `loyalty run` does."""
    from loyalty.run import run

    warehouse = tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb"
    run(generated_landing, warehouse, full_refresh=False, as_json=False)
    return BuiltWorld(landing=generated_landing, warehouse=warehouse, truth_dir=generated_landing / "ground_truth")


@pytest.fixture()
def landing_copy(generated_landing, tmp_path) -> Path:
    """A private copy of the generated landing folder that a test may change."""
    dest = tmp_path / "landing"
    shutil.copytree(generated_landing, dest)
    return dest


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch, tmp_path):
    """Tests never read a developer's loyalty.toml or LOYALTY_* environment."""
    for name in list(os.environ):
        if name.startswith("LOYALTY_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(REPO_ROOT)


def pytest_configure(config):
    # `pytest -m fault`: the crash, signal and fault-injection suite listed in docs/operations.md.
    config.addinivalue_line("markers", "fault: kills, signals or breaks a real process, file or server on purpose")
