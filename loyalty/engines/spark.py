"""Apache Spark as the build engine: the same dbt project built by dbt-spark from the Parquet raw layer.

    <warehouse>.raw/      the Parquet raw layer (ingest/parquet_layer.py), shared by every copy of the warehouse
    <warehouse>.spark/    Spark's side of this warehouse:
        metastore_db/ spark-warehouse/   (session method) the Hive metastore and the tables dbt builds
        manifest/         the warehouse's manifest as of the build: which raw rows are live
        profile/ target/ logs/           dbt's profile for the chosen method, its target folder and logs
        consumed.json     the ingest batches the built tables have seen (see `_needs_full_refresh`)
        export/           marts written by Spark, before they become <mart>.parquet files or DuckDB tables
        .lock             one Spark build of this warehouse at a time

Methods (settings `spark_method`, `spark_master`, `spark_host`, `spark_port`): `session` runs Spark inside
this process (pyspark's own jars; master `local[*]`, or `spark://host:port` for a standalone cluster);
`thrift` sends the SQL to a running Spark Thrift server (HiveThriftServer2, EMR), which keeps its own
metastore and tables and must see the raw-layer folder at the same path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import duckdb

from ingest import parquet_layer
from ingest.locks import LockHeld, exclusive_lock
from loyalty.build import (
    BUILD_LOCK,
    PACKAGE_ENV,
    PROJECT_DIR,
    BuildFailed,
    BuildResult,
    console,
    dbt_environment,
    first_line,
    install_package,
    invoke_dbt,
    node_results,
    raise_on_failure,
)
from loyalty.engines.duckdb import write_parquet
from loyalty.errors import LoyaltyError

METHODS = ("session", "thrift")
JAVA_PACKAGE = "openjdk-17-jre-headless"
MIN_JAVA = 17
# DuckDB's raw-layer types → Spark's (as written to Parquet by DuckDB and read back by Spark).
_SPARK_TYPES = {
    "VARCHAR": "string",
    "JSON": "string",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "BOOLEAN": "boolean",
    "DOUBLE": "double",
    "DATE": "date",
    "TIMESTAMP WITH TIME ZONE": "timestamp",
}
_DECIMAL = re.compile(r"^DECIMAL\((\d+),\s*(\d+)\)$")


@dataclass(frozen=True)
class SparkConfig:
    method: str = "session"
    master: str = "local[*]"  # session method: local[N], or spark://host:port of a standalone cluster
    host: str = "127.0.0.1"  # thrift method
    port: int = 10000
    driver_memory: str = "2g"
    raw_parquet: Path | None = None  # default: <warehouse>.raw
    state: Path | None = None  # default: <warehouse>.spark

    @classmethod
    def from_settings(cls, settings) -> SparkConfig:
        method = str(settings.get("spark_method"))
        if method not in METHODS:
            raise LoyaltyError(f"spark_method must be one of {', '.join(METHODS)}, got {method!r}")
        raw, state = settings.get("raw_parquet"), settings.get("spark_state")
        return cls(
            method=method,
            master=str(settings.get("spark_master")),
            host=str(settings.get("spark_host")),
            port=int(settings.get("spark_port")),
            driver_memory=str(settings.get("spark_driver_memory")),
            raw_parquet=Path(raw).expanduser() if raw else None,
            state=Path(state).expanduser() if state else None,
        )

    def raw_folder(self, warehouse: Path) -> Path:
        return (self.raw_parquet or parquet_layer.default_folder(warehouse)).resolve()

    def state_folder(self, warehouse: Path) -> Path:
        return (self.state or warehouse.with_name(warehouse.name + ".spark")).resolve()


def raw_parquet_for_ingest(settings, warehouse: Path) -> Path | None:
    """Where `loyalty ingest` also writes the Parquet raw layer: the configured `raw_parquet` folder, or the
    default one when the configured engine is Spark; None (DuckDB only) otherwise."""
    if settings.get("raw_parquet") or settings.get("engine") == "spark":
        return SparkConfig.from_settings(settings).raw_folder(warehouse)
    return None


def for_published(config: SparkConfig, warehouse: Path) -> SparkConfig:
    """The configuration a build of a working copy of `warehouse` (`loyalty run`'s `.next`) uses: the published
    warehouse's raw layer and Spark state, so incremental tables and Parquet batches carry over between runs."""
    return replace(config, raw_parquet=config.raw_folder(warehouse), state=config.state_folder(warehouse))


def require_spark(config: SparkConfig) -> None:
    """Java and the `spark` extra are there, or a one-line error saying what to install."""
    try:
        import dbt.adapters.spark  # noqa: F401 -- only checking that the extra is installed
        import pyspark  # noqa: F401
    except ImportError:
        raise LoyaltyError(
            "--engine spark needs the `spark` extra: pip install 'loyalty-warehouse[spark]' "
            "(or '.[spark]' in a checkout)"
        ) from None
    if config.method == "session":
        _require_java()


def _require_java() -> None:
    java = Path(os.environ["JAVA_HOME"]) / "bin" / "java" if os.environ.get("JAVA_HOME") else shutil.which("java")
    if not java or not Path(java).exists():
        raise LoyaltyError(f"--engine spark needs Java {MIN_JAVA}+: install Debian's {JAVA_PACKAGE} (or set JAVA_HOME)")
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    major = int(match.group(2)) if major == 1 and match and match.group(2) else major  # "1.8" is Java 8
    if major < MIN_JAVA:
        raise LoyaltyError(
            f"--engine spark needs Java {MIN_JAVA}+, found {major or 'an unknown version'} at {java}: "
            f"install Debian's {JAVA_PACKAGE}"
        )


def build(
    warehouse: Path,
    config: SparkConfig,
    *,
    project_dir: Path | None = None,
    full_refresh: bool = False,
    select: str | None = None,
) -> BuildResult:
    """`dbt build` of `project_dir` (default: the shipped project; or a `loyalty init` project, which uses it as a
    package) on Spark from `warehouse`'s raw layer (models and data tests); raise BuildFailed on failure."""
    warehouse = Path(warehouse).resolve()
    project_dir = _project(project_dir)
    require_spark(config)
    state = config.state_folder(warehouse)
    with _state_lock(state):
        _install_package_for(project_dir, state)
        raw_vars, batches = _prepare_raw_layer(warehouse, config)
        if not full_refresh and _needs_full_refresh(state, batches):
            console.print(
                "  spark: the built tables have seen ingest batches this warehouse does not have "
                "(a run that was never published): rebuilding them in full"
            )
            full_refresh = True
        args = ["build"]
        if full_refresh:
            args.append("--full-refresh")
        if select:
            args += ["--select", select]
        else:
            args += ["--exclude-resource-type", "unit_test"]
        started = time.perf_counter()
        sources = run_dbt(["run-operation", "create_raw_sources"], state, config, raw_vars, project_dir)
        if not sources.success:
            reason = first_line(sources.exception) or f"see {state / 'logs' / 'dbt.log'}"
            raise LoyaltyError(f"declaring the Parquet raw layer on Spark failed: {reason}")
        outcome = run_dbt(args, state, config, raw_vars, project_dir)
        nodes = node_results(outcome)
        result = BuildResult(warehouse=warehouse, seconds=time.perf_counter() - started, nodes=nodes)
        try:
            raise_on_failure(outcome, nodes, state)
        except LoyaltyError as exc:
            raise BuildFailed(str(exc), result) from exc
        (state / "consumed.json").write_text(json.dumps(sorted(batches)))
    tests = sum(1 for n in nodes if n.resource_type == "test")
    models = sum(1 for n in nodes if n.resource_type == "model")
    console.print(
        f"  dbt build on spark ({_where(config)}): {models} models, {tests} tests passed in {result.seconds:.1f} s"
    )
    return result


def export_marts(warehouse: Path, out: Path, config: SparkConfig, *, project_dir: Path | None = None) -> list[str]:
    """Write every mart of the Spark build of `warehouse` to `out/<mart>.parquet`; return the mart names."""
    folders = _export_from_spark(Path(warehouse).resolve(), config, project_dir)
    out.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        for mart, folder in folders.items():
            write_parquet(con, f"select * from read_parquet('{_sql_path(folder)}/*.parquet')", out / f"{mart}.parquet")
    return list(folders)


def load_marts_into(
    warehouse: Path, database: Path, config: SparkConfig, *, project_dir: Path | None = None
) -> list[str]:
    """Replace the `marts` tables of the DuckDB file `database` with the Spark build of `warehouse`, where the
    dashboards read them (`loyalty run --engine spark` builds `<warehouse>.next` and publishes it)."""
    folders = _export_from_spark(Path(warehouse).resolve(), config, project_dir)
    con = duckdb.connect(str(database))
    try:
        con.execute("set TimeZone = 'UTC'")
        con.execute("begin")
        con.execute("create schema if not exists marts")
        for mart, folder in folders.items():
            con.execute(
                f"create or replace table marts.{mart} as select * from read_parquet('{_sql_path(folder)}/*.parquet')"
            )
        con.execute("commit")
        con.execute("checkpoint")
    finally:
        con.close()
    return list(folders)


def _export_from_spark(warehouse: Path, config: SparkConfig, project_dir: Path | None) -> dict[str, Path]:
    """Every mart written by Spark as a folder of Parquet files under <state>/export/; mart → folder."""
    project_dir = _project(project_dir)
    require_spark(config)
    state = config.state_folder(warehouse)
    export = state / "export"
    with _state_lock(state):
        _install_package_for(project_dir, state)
        shutil.rmtree(export, ignore_errors=True)
        operation = ["run-operation", "export_marts", "--args", json.dumps({"folder": str(export)})]
        outcome = run_dbt(operation, state, config, None, project_dir)
        if not outcome.success:
            reason = first_line(outcome.exception) or f"see {state / 'logs' / 'dbt.log'}"
            raise LoyaltyError(f"exporting the marts of the Spark build of {warehouse} failed: {reason}")
    folders = {p.name: p for p in sorted(export.iterdir()) if p.is_dir()} if export.is_dir() else {}
    if not folders:
        raise LoyaltyError(f"the Spark build of {warehouse} has no marts")
    return folders


def _prepare_raw_layer(warehouse: Path, config: SparkConfig) -> tuple[dict, set[str]]:
    """Catch the Parquet raw layer up with the warehouse's manifest, snapshot the manifest for this build and
    describe the raw tables for macros/cross_db/raw_sources.sql. Returns the dbt var and the batch ids."""
    if not warehouse.is_file():
        raise LoyaltyError(f"warehouse {warehouse} does not exist: run `loyalty ingest` first")
    folder, state = config.raw_folder(warehouse), config.state_folder(warehouse)
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as exc:
        raise LoyaltyError(f"cannot open warehouse {warehouse}: {str(exc).splitlines()[0]}") from exc
    try:
        written = parquet_layer.write_new_batches(con, folder)
        if written:
            console.print(f"  spark: wrote {len(written)} ingest batch(es) to the Parquet raw layer {folder}")
        parquet_layer.write_manifest_snapshot(con, state / "manifest")
        file_columns = parquet_layer.batch_tables(con)
        tables = {}
        for table in (*parquet_layer.MANIFEST_TABLES, *file_columns):
            (folder / table).mkdir(parents=True, exist_ok=True)
            tables[table] = {"columns": _spark_columns(con, table), "file_column": file_columns.get(table)}
        batches = {b for (b,) in con.execute("select batch_id from raw.ingest_batches").fetchall()}
    finally:
        con.close()
    raw_vars = {"folder": str(folder), "manifest": str(state / "manifest"), "tables": tables}
    return raw_vars, batches


def _spark_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[list[str]]:
    rows = con.execute(
        """select column_name, data_type from information_schema.columns
           where table_schema = 'raw' and table_name = ? order by ordinal_position""",
        [table],
    ).fetchall()
    columns = []
    for name, duckdb_type in rows:
        decimal = _DECIMAL.match(duckdb_type)
        spark_type = f"decimal({decimal.group(1)},{decimal.group(2)})" if decimal else _SPARK_TYPES.get(duckdb_type)
        if spark_type is None:
            raise LoyaltyError(f"raw.{table}.{name} is {duckdb_type}, which the Spark engine does not map yet")
        columns.append([name, spark_type])
    return columns


def _needs_full_refresh(state: Path, batches: set[str]) -> bool:
    """True when the built tables consumed a batch this warehouse never had: a `loyalty run` that built on Spark
    and then failed leaves its batches in the Spark tables but not in the published warehouse."""
    consumed = state / "consumed.json"
    return consumed.exists() and not set(json.loads(consumed.read_text())) <= batches


def _project(project_dir: Path | None) -> Path:
    """The dbt project to build: the shipped one, or a user's own (`loyalty init`), checked as for DuckDB."""
    project_dir = Path(project_dir).expanduser().resolve() if project_dir else PROJECT_DIR
    if not (project_dir / "dbt_project.yml").is_file():
        raise LoyaltyError(f"no dbt_project.yml in {project_dir}: create a project with `loyalty init {project_dir}`")
    return project_dir


def _install_package_for(project_dir: Path, state: Path) -> None:
    """A user project links the shipped one as its dbt package (`dbt deps`), as the DuckDB engine does."""
    with BUILD_LOCK, dbt_environment({PACKAGE_ENV: str(PROJECT_DIR)}):
        install_package(project_dir, state)


def run_dbt(args: list[str], state: Path, config: SparkConfig, raw_vars: dict | None, project_dir: Path = PROJECT_DIR):
    """One in-process dbt invocation (`build`, `run-operation`, ...) of `project_dir` on Spark, with this warehouse's
    profile, target folder, logs and raw layer; returns dbt's outcome. A user project's packages.yml finds the
    shipped project through LOYALTY_DBT_PACKAGE, set here as the DuckDB engine sets it."""
    profile = state / "profile"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "profiles.yml").write_text(json.dumps(_profile(state, config), indent=2))  # JSON is YAML
    args = [
        *args,
        "--project-dir", str(project_dir),
        "--profiles-dir", str(profile),
        "--target-path", str(state / "target"),
        "--log-path", str(state / "logs"),
        "--quiet",
    ]  # fmt: skip
    if raw_vars is not None:
        args += ["--vars", json.dumps({"raw_parquet": raw_vars})]
    with BUILD_LOCK, dbt_environment({PACKAGE_ENV: str(PROJECT_DIR)}), _spark_session_for(state, config):
        return invoke_dbt(args)


# Runtime settings for every method: UTC days, timestamps in Parquet as UTC instants DuckDB reads as
# TIMESTAMPTZ, nulls treated as in DuckDB where Spark lets us choose.
_SQL_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}


def _profile(state: Path, config: SparkConfig) -> dict:
    output: dict = {"type": "spark", "schema": "loyalty", "threads": 4, "server_side_parameters": dict(_SQL_CONF)}
    if config.method == "thrift":
        output |= {"method": "thrift", "host": config.host, "port": config.port, "connect_retries": 3}
    else:
        output |= {"method": "session", "host": "localhost"}
        output["server_side_parameters"] |= _session_conf(state, config)
    return {"loyalty": {"target": "spark", "outputs": {"spark": output}}}


def _session_conf(state: Path, config: SparkConfig) -> dict[str, str]:
    """The in-process Spark: its metastore and tables under <state>, quiet logs, loopback unless a remote master."""
    log_config = state / "log4j2.properties"
    log_config.write_text(
        "rootLogger.level = error\nrootLogger.appenderRef.stderr.ref = console\n"
        "appender.console.type = Console\nappender.console.name = console\nappender.console.target = SYSTEM_ERR\n"
        "appender.console.layout.type = PatternLayout\nappender.console.layout.pattern = spark: %p %c{1}: %m%n\n"
        # `create database if not exists` logs an AlreadyExistsException as an error
        "logger.metastore.name = org.apache.hadoop.hive.metastore.RetryingHMSHandler\nlogger.metastore.level = off\n"
    )
    conf = {
        "spark.master": config.master,
        "spark.app.name": "loyalty-build",
        "spark.driver.memory": config.driver_memory,
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={state} -Dlog4j2.configurationFile={log_config}",
        "spark.sql.warehouse.dir": str(state / "spark-warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={state / 'metastore_db'};create=true",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
    }
    if _on_this_machine(config.master):
        conf |= {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    if config.master.startswith("local"):
        conf["spark.sql.shuffle.partitions"] = str(2 * (os.cpu_count() or 2))  # 200 tasks per join is for clusters
    return conf


def _on_this_machine(master: str) -> bool:
    return master.startswith("local") or re.match(r"^spark://(127\.0\.0\.1|localhost)(:\d+)?$", master) is not None


@contextmanager
def _spark_session_for(state: Path, config: SparkConfig):
    """dbt-spark's session method takes the process's SparkSession as it finds it. One started for another master
    is stopped first, so this build starts its own; one started for another warehouse cannot be replaced: Hive's
    metastore client stays bound to the first metastore for the life of the JVM."""
    if config.method != "session":
        yield
        return
    warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")  # its pandas 3 notice
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession() or SparkSession._instantiatedSession
    if active is not None:
        conf = active.sparkContext.getConf()
        other = conf.get("spark.sql.warehouse.dir", "").removeprefix("file:")
        if other != str(state / "spark-warehouse"):
            raise LoyaltyError(
                f"this process already runs Spark for {Path(other).parent}; one warehouse's Spark state per process"
            )
        if conf.get("spark.master") != config.master:
            active.stop()
    yield


@contextmanager
def _state_lock(state: Path):
    state.mkdir(parents=True, exist_ok=True)
    try:
        with exclusive_lock(state / ".lock"):
            yield
    except LockHeld as held:
        raise LoyaltyError(f"another Spark build (pid {held.holder}) is using {state}") from None


def _where(config: SparkConfig) -> str:
    return f"thrift {config.host}:{config.port}" if config.method == "thrift" else f"session, master {config.master}"


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
