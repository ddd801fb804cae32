"""The Spark engine on a real local Spark (dbt-spark's session method, pyspark's own jars, one session for the
module): the cross-engine macros give DuckDB's results on Spark, DuckDB still spells them as the models do
today, and the models that are portable already, built on Spark from the Parquet raw layer, equal DuckDB's.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from ingest.parquet_layer import committed_batches
from loyalty.build import PROJECT_DIR, _close_connections, _invoke
from loyalty.engines import spark
from loyalty.errors import LoyaltyError

REPO_ROOT = Path(__file__).resolve().parents[1]
CROSS_DB_PROJECT = Path(__file__).resolve().parent / "dbt_cross_db"
CROSS_DB_MODELS = [
    "json_functions",
    "json_list_unnested",
    "casts_and_times",
    "ordered_aggregates",
    "syntax_differences",
]
# Models of the project that build on Spark today with only the cross_db macros (no model edits): staging of
# exports, API pulls, webhook deliveries and tier events, and the tier events deduplicated. The porting plan
# in docs/scale.md lists what the others need.
PORTABLE_NOW = {
    "staging": [
        "stg_voucherify__export_customers",
        "stg_voucherify__export_loyalty_transactions",
        "stg_voucherify__export_orders",
        "stg_voucherify__export_points_expirations",
        "stg_voucherify__export_publications",
        "stg_voucherify__export_redemptions",
        "stg_voucherify__export_vouchers",
        "stg_voucherify__api_loyalty_transactions",
        "stg_voucherify__api_redemptions",
        "stg_voucherify__webhook_deliveries",
        "stg_voucherify__webhook_tier_events",
    ],
    "intermediate": ["int_tier_events_deduped"],
}


# One Spark state (metastore, tables) for every in-process Spark of the test run: Hive's metastore client stays
# bound to the first metastore of the JVM, and one session serves every build (the JVM starts once).
SPARK_STATE = Path(tempfile.mkdtemp(prefix="loyalty-spark-state-"))
atexit.register(shutil.rmtree, SPARK_STATE, ignore_errors=True)


@pytest.fixture(scope="module")
def spark_config() -> spark.SparkConfig:
    return spark.SparkConfig(master="local[2]", state=SPARK_STATE)


def spark_table_to_parquet(relation: str, path: Path) -> Path:
    """A table or view of the in-process Spark written to Parquet (timestamps as UTC instants), for DuckDB to read."""
    from pyspark.sql import SparkSession

    session = SparkSession.builder.getOrCreate()  # the session dbt-spark started
    session.table(relation).write.mode("overwrite").parquet(str(path))
    return path


def rows(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[list[str], list[tuple]]:
    cursor = con.execute(f"select * from {relation} order by all")
    return [c[0] for c in cursor.description], cursor.fetchall()


def assert_same_rows(from_spark: list[tuple], from_duckdb: list[tuple], what: str) -> None:
    """Row for row equal; on a difference, the rows each engine has that the other has not."""
    if from_spark != from_duckdb:
        only_spark = [r for r in from_spark if r not in from_duckdb]
        only_duckdb = [r for r in from_duckdb if r not in from_spark]
        pytest.fail(
            f"{what}: {len(only_spark)} rows only on Spark {only_spark[:10]}, {len(only_duckdb)} only on DuckDB "
            f"{only_duckdb[:10]}"
        )


def spark_rows(relation: str, tmp_path: Path) -> tuple[list[str], list[tuple]]:
    folder = spark_table_to_parquet(relation, tmp_path / relation.replace(".", "__"))
    with duckdb.connect() as con:
        con.execute("set TimeZone = 'UTC'")
        return rows(con, f"read_parquet('{folder}/*.parquet')")


@pytest.fixture(scope="module")
def cross_db_builds(spark_config, tmp_path_factory):
    """The test-only project (tests/dbt_cross_db) with the loyalty project's own macros, built on DuckDB and on
    Spark; returns the DuckDB file and the project folder."""
    root = tmp_path_factory.mktemp("cross_db")
    project = root / "project"
    shutil.copytree(CROSS_DB_PROJECT, project)
    shutil.copytree(PROJECT_DIR / "macros", project / "macros")
    database = root / "cross_db.duckdb"
    (root / "profiles.yml").write_text(
        "loyalty:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: '{database}'\n      schema: loyalty\n      settings:\n        TimeZone: UTC\n"
    )
    try:
        duck = _invoke(["build", "--project-dir", str(project), "--profiles-dir", str(root), "--quiet"])
    finally:
        _close_connections()
    assert duck.success, duck.exception
    outcome = spark.run_dbt(["build"], spark_config.state_folder(database), spark_config, None, project)
    assert outcome.success, outcome.exception or [r.message for r in outcome.result.results if r.message]
    return database, project


@pytest.mark.parametrize("model", CROSS_DB_MODELS)
def test_the_cross_engine_macros_give_duckdbs_results_on_spark(cross_db_builds, model, tmp_path):
    database, _ = cross_db_builds
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        duck_columns, duck_rows = rows(con, f"loyalty.{model}")
    spark_columns, from_spark = spark_rows(f"loyalty.{model}", tmp_path)
    assert spark_columns == duck_columns
    assert len(duck_rows) >= 5
    assert_same_rows(from_spark, duck_rows, model)


def test_the_inputs_are_tricky_enough_to_tell_the_engines_apart(cross_db_builds):
    """Spot checks against values worked out by hand: the equality above is not between two empty answers."""
    database, _ = cross_db_builds
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        casts = dict(con.execute("select raw_text, as_bigint from loyalty.casts_and_times").fetchall())
        assert (casts["2.5"], casts["-2.5"], casts["1e3"], casts["garbage"]) == (3, -3, 1000, None)
        instant = con.execute(
            "select as_instant from loyalty.casts_and_times where raw_text = '2024-01-02T03:04Z'"
        ).fetchone()[0]
        assert instant.isoformat() == "2024-01-02T03:04:00+00:00"
        firsts = con.execute(
            "select distinct entity, first_by_rank_then_day, latest_first, joined from loyalty.ordered_aggregates "
            "order by entity"
        ).fetchall()
        assert firsts[0] == ("a", "first", "second", "null-date|second|first")
        assert firsts[1][1] == "tie-b"  # null days sort last, then the tiebreak decides
        value = con.execute("select json_value from loyalty.json_functions where doc_id = 1 and path = 'n'").fetchone()[
            0
        ]
        assert value == '{"b":1,"c":[1,"x"]}'  # keys in the document's order, minified


def test_duckdb_spells_the_cross_engine_macros_exactly_as_the_models_do_today(cross_db_builds):
    _, project = cross_db_builds
    compiled = next((project / "target" / "compiled").rglob("duckdb_spellings.sql")).read_text()
    spelled = dict(re.findall(r"^-- (\w+)\|(.*)$", compiled, flags=re.M))
    assert spelled == {
        "like_escaped": "transaction_id like 'vtx\\_%' escape '\\'",
        "as_not_materialized": "deliveries as not materialized (",
        "json_type_of": "json_type(doc, '$.metadata.location_id')",
        "json_text": "json_extract_string(doc, '$.metadata.location_id[0]')",
        "json_text_dotted": "json_extract_string(record, '$.\"metadata.location_id\"')",
        "json_value_list": "json_extract(data, '$.vouchers[*]')",
        "json_value_list_root": "json_extract(items, '$[*]')",
        "json_value": "nullif(json_extract(data, '$.customer'), 'null'::json)",
        "list_of": "[coalesce(a, b)]",
        "unnest_list": "unnest(vouchers)",
        "type_text": "cast(_line as varchar)",
        "type_text_length": "cast(code as varchar(20))",
        "type_json": "cast(null as json)",
        "type_timestamptz": "timestamptz",
        "type_money": "decimal(18,2)",
        "safe_cast": "try_cast(x as bigint)",
        "nulls_last": "order by occurred_at, received_at desc, message_id",
        "first_not_null": "first(email order by seen_at desc, source_rank) filter (where email is not null)",
        "value_at_min": "arg_min(status, updated_at)",
        "value_at_max": "arg_max(status, updated_at)",
        "string_agg_ordered": "string_agg(sku, ', ' order by sku)",
        "quote": '"timestamp"',
    }


def prepared_world(built_world, tmp_path: Path) -> Path:
    """A copy of the DuckDB-built world; `loyalty ingest` with the Spark engine configured finds nothing new to
    load and writes the batches its Parquet raw layer (<copy>.raw) is missing."""
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(built_world.warehouse, warehouse)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")} | {"LOYALTY_ENGINE": "spark"}
    ingest = subprocess.run(
        [sys.executable, "-m", "loyalty.cli", "ingest", "--landing", str(built_world.landing), "--warehouse",
         str(warehouse)],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert ingest.returncode == 0, ingest.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        batches = {b for (b,) in con.execute("select distinct batch_id from raw.ingest_files").fetchall()}
    assert committed_batches(warehouse.with_name(warehouse.name + ".raw")) == batches
    return warehouse


def test_models_portable_today_built_on_spark_from_the_parquet_raw_layer_equal_duckdb(
    built_world, spark_config, tmp_path
):
    warehouse = prepared_world(built_world, tmp_path)
    config = replace(spark_config, raw_parquet=None)  # the default folder, <warehouse>.raw
    models = [m for names in PORTABLE_NOW.values() for m in names]
    result = spark.build(warehouse, config, select=" ".join(models))
    assert {n.name for n in result.nodes if n.resource_type == "model"} == {f"model.{m}" for m in models}

    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        for schema, names in PORTABLE_NOW.items():
            for model in names:
                duck_columns, duck_rows = rows(con, f"{schema}.{model}")
                spark_columns, from_spark = spark_rows(f"{schema}.{model}", tmp_path)
                assert spark_columns == duck_columns, model
                assert_same_rows(from_spark, duck_rows, model)
                if "__api_" not in model:  # the generator writes no API pulls
                    assert duck_rows, model


def test_spark_marts_exported_as_files_and_loaded_into_duckdb_equal_the_duckdb_build(
    cross_db_builds, spark_config, tmp_path
):
    """The hand-off of a Spark build: `loyalty export --engine spark` files, and the marts `loyalty run --engine
    spark` loads into the DuckDB file the dashboards read (the test project's models live under models/marts/)."""
    database, project = cross_db_builds
    out = tmp_path / "export"
    assert sorted(spark.export_marts(database, out, spark_config, project_dir=project)) == sorted(CROSS_DB_MODELS)
    published = tmp_path / "published.duckdb"
    spark.load_marts_into(database, published, spark_config, project_dir=project)
    with duckdb.connect(str(published)) as con:
        con.execute("set TimeZone = 'UTC'")
        con.execute(f"attach '{database}' as duckdb_build (read_only)")
        for mart in CROSS_DB_MODELS:
            _, exported = rows(con, f"read_parquet('{out / mart}.parquet')")
            _, loaded = rows(con, f"marts.{mart}")
            _, built = rows(con, f"duckdb_build.loyalty.{mart}")
            assert_same_rows(exported, built, f"{mart}.parquet")
            assert_same_rows(loaded, built, f"marts.{mart}")
        types = dict(
            con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_catalog = 'published' and table_name = 'casts_and_times'"
            ).fetchall()
        )
    assert (types["as_instant"], types["cents_as_money"], types["as_date"]) == (
        "TIMESTAMP WITH TIME ZONE",
        "DECIMAL(18,2)",
        "DATE",
    )


def test_a_missing_extra_or_java_is_one_line_saying_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    with pytest.raises(LoyaltyError, match="install Debian's openjdk-17-jre-headless"):
        spark.require_spark(spark.SparkConfig())
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setitem(sys.modules, "pyspark", None)  # as if the extra were not installed
    with pytest.raises(LoyaltyError, match=r"pip install 'loyalty-warehouse\[spark\]'"):
        spark.require_spark(spark.SparkConfig())
