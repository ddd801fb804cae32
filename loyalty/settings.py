"""Settings: command-line flag, then LOYALTY_* environment variable, then loyalty.toml, then default.

A relative path in loyalty.toml is relative to the file's folder, so a project made by `loyalty init` works
from anywhere it is pointed at (--config, LOYALTY_CONFIG); flags and environment values are relative to the
working directory.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.raw_schema import RAW_SCHEMA
from loyalty.errors import LoyaltyError

CONFIG_FILE_ENV = "LOYALTY_CONFIG"
DEFAULT_CONFIG_FILE = "loyalty.toml"

# key -> (environment variable, default). Keys are also the loyalty.toml keys.
KNOWN = {
    "landing": ("LOYALTY_LANDING", "data/landing"),
    "warehouse": ("LOYALTY_WAREHOUSE", "data/warehouse.duckdb"),
    "port": ("LOYALTY_PORT", 8501),
    "stale_after_hours": ("LOYALTY_STALE_AFTER_HOURS", 26),
    # A dbt project of your own (`loyalty init`) that uses the shipped one as a package; unset: the shipped one.
    "dbt_project": ("LOYALTY_DBT_PROJECT", None),
    "voucherify_base_url": ("LOYALTY_VOUCHERIFY_BASE_URL", "https://api.voucherify.io"),
    "voucherify_app_id": ("LOYALTY_VOUCHERIFY_APP_ID", None),
    "voucherify_app_token": ("LOYALTY_VOUCHERIFY_APP_TOKEN", None),
    "webhook_secret": ("LOYALTY_WEBHOOK_SECRET", None),
    "receiver_max_body_bytes": ("LOYALTY_RECEIVER_MAX_BODY_BYTES", 1_048_576),
    "receiver_rotate_bytes": ("LOYALTY_RECEIVER_ROTATE_BYTES", 67_108_864),
    "receiver_rotate_seconds": ("LOYALTY_RECEIVER_ROTATE_SECONDS", 3600),
    # `loyalty pull voucherify`: exported objects (comma-separated), the first pull's start (ISO date;
    # empty = everything), and loyalty campaign ids (comma-separated; empty = every LOYALTY_PROGRAM campaign).
    "voucherify_exports": (
        "LOYALTY_VOUCHERIFY_EXPORTS",
        "redemption,voucher_transactions,order,customer,voucher,publication",
    ),
    "voucherify_pull_since": ("LOYALTY_VOUCHERIFY_PULL_SINCE", None),
    "voucherify_loyalty_campaigns": ("LOYALTY_VOUCHERIFY_LOYALTY_CAMPAIGNS", None),
    # `loyalty push voucherify`: prepended to each trait's name to make its customer metadata key.
    "voucherify_metadata_prefix": ("LOYALTY_VOUCHERIFY_METADATA_PREFIX", ""),
    # Build engine (duckdb | spark) and the Spark engine's settings (docs/scale.md): the Parquet raw layer's
    # folder (default <warehouse>.raw; ingest writes it when set or when the engine is spark), Spark's state
    # folder (default <warehouse>.spark), the method (session: in this process; thrift: a Spark Thrift server at
    # spark_host:spark_port), the session's master (local[*] or spark://host:port) and its driver memory.
    "engine": ("LOYALTY_ENGINE", "duckdb"),
    "raw_parquet": ("LOYALTY_RAW_PARQUET", None),
    "spark_state": ("LOYALTY_SPARK_STATE", None),
    "spark_method": ("LOYALTY_SPARK_METHOD", "session"),
    "spark_master": ("LOYALTY_SPARK_MASTER", "local[*]"),
    "spark_host": ("LOYALTY_SPARK_HOST", "127.0.0.1"),
    "spark_port": ("LOYALTY_SPARK_PORT", 10000),
    "spark_driver_memory": ("LOYALTY_SPARK_DRIVER_MEMORY", "2g"),
    # The DuckDB build's memory cap (DuckDB's memory_limit: '4GB', '50%') and the folder it spills to beyond it;
    # unset: the defaults in the dbt project's profiles.yml (docs/scale.md, "When one machine still serves").
    "duckdb_memory_limit": ("LOYALTY_DUCKDB_MEMORY_LIMIT", None),
    "duckdb_temp_directory": ("LOYALTY_DUCKDB_TEMP_DIRECTORY", None),
}


# The warehouse's schemas: ingest's raw, the dbt project's staging, intermediate and marts, and the runs' ops.
WAREHOUSE_SCHEMAS = (RAW_SCHEMA, "staging", "intermediate", "marts", "ops")


def check_warehouse_name(path: Path) -> Path:
    """DuckDB names a database after its file, up to the first dot; a database named like one of the warehouse's
    schemas makes every `schema.table` in ingest and the models ambiguous, so such a name is refused up front."""
    database = path.name.split(".", 1)[0]
    if database.lower() in WAREHOUSE_SCHEMAS:
        raise LoyaltyError(
            f"warehouse {path}: DuckDB would name its database {database!r}, like the warehouse's schema "
            f"{database.lower()!r} ({', '.join(WAREHOUSE_SCHEMAS)}), and every query would be ambiguous; "
            f"choose another file name, e.g. {path.with_name('warehouse.duckdb')}"
        )
    return path


@dataclass
class Settings:
    """Resolved settings; `get` applies the precedence for any known key."""

    config_path: Path | None
    file_values: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str, flag_value: Any = None) -> Any:
        return self._lookup(key, flag_value)[0]

    def path(self, key: str, flag_value: Path | str | None = None) -> Path | None:
        """The setting as a path (None when unset and without a default)."""
        value, from_file = self._lookup(key, flag_value)
        if value is None:
            return None
        path = Path(value).expanduser()
        if from_file and self.config_path is not None and not path.is_absolute():
            path = self.config_path.parent / path
        return check_warehouse_name(path) if key == "warehouse" else path

    def _lookup(self, key: str, flag_value: Any) -> tuple[Any, bool]:
        """(value, whether it came from the settings file)."""
        env_name, default = KNOWN[key]
        if flag_value is not None:
            return flag_value, False
        if env_name in os.environ and os.environ[env_name] != "":
            return _coerce(os.environ[env_name], default), False
        if key in self.file_values:
            return self.file_values[key], True
        return default, False


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise LoyaltyError(f"expected a whole number, got {raw!r}") from exc
    return raw


def load_settings(config_path: Path | None = None) -> Settings:
    """Read loyalty.toml (or $LOYALTY_CONFIG) when present; a missing default file is fine."""
    explicit = config_path or (Path(os.environ[CONFIG_FILE_ENV]) if os.environ.get(CONFIG_FILE_ENV) else None)
    path = explicit or Path(DEFAULT_CONFIG_FILE)
    if not path.exists():
        if explicit:
            raise LoyaltyError(f"config file {path} does not exist")
        return Settings(config_path=None)
    try:
        values = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise LoyaltyError(f"{path}: not valid TOML ({exc})") from exc
    unknown = sorted(set(values) - set(KNOWN))
    if unknown:
        raise LoyaltyError(f"{path}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(KNOWN)}")
    return Settings(config_path=path, file_values=values)
