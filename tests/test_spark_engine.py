"""The Spark engine on a real local Spark (dbt-spark's session method, pyspark's own jars, one session for the
test run): the cross-engine macros give DuckDB's results on Spark (including the bucket overwrite that stands in
for merge and delete on Parquet tables), DuckDB still spells them as the models did before the port, and marts
hand over as Parquet files and DuckDB tables. The whole project on Spark: tests/test_spark_project.py.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb
import pytest

from ingest.parquet_layer import committed_batches
from loyalty.build import PROJECT_DIR, close_connections, invoke_dbt
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
    "keys_and_rates",
    "bucketed_inputs",
    "bucketed_recompute",
]
BUCKET_COLUMN = "_spark_bucket"  # Spark's partition column of key-bucketed tables (macros/cross_db/incremental.sql)


# One Spark state (metastore, tables) for every in-process Spark of the test run: Hive's metastore client stays
# bound to the first metastore of the JVM, and one session serves every build (the JVM starts once).
SPARK_STATE = Path(tempfile.mkdtemp(prefix="loyalty-spark-state-"))
atexit.register(shutil.rmtree, SPARK_STATE, ignore_errors=True)


@pytest.fixture(scope="module")
def spark_config() -> spark.SparkConfig:
    return spark.SparkConfig(master="local[2]", state=SPARK_STATE)


def spark_session():
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()  # the session dbt-spark started


def spark_table_to_parquet(relation: str, path: Path) -> Path:
    """A table or view of the in-process Spark written to Parquet (timestamps as UTC instants; without the bucket
    column, which DuckDB's tables do not have), for DuckDB to read."""
    table = spark_session().table(relation)
    if BUCKET_COLUMN in table.columns:
        table = table.drop(BUCKET_COLUMN)
    table.write.mode("overwrite").parquet(str(path))
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
    Spark, twice: the second round (var `round: 2`) is an incremental run of bucketed_recompute. Returns the DuckDB
    file and the project folder."""
    root = tmp_path_factory.mktemp("cross_db")
    project = root / "project"
    shutil.copytree(CROSS_DB_PROJECT, project)
    shutil.copytree(PROJECT_DIR / "macros", project / "macros")
    database = root / "cross_db.duckdb"
    (root / "profiles.yml").write_text(
        "loyalty:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: '{database}'\n      schema: loyalty\n      settings:\n        TimeZone: UTC\n"
    )
    for round_args in ([], ["--vars", "{round: 2}"]):
        try:
            duck = invoke_dbt(
                ["build", *round_args, "--project-dir", str(project), "--profiles-dir", str(root), "--quiet"]
            )
        finally:
            close_connections()
        assert duck.success, duck.exception
        outcome = spark.run_dbt(
            ["build", *round_args], spark_config.state_folder(database), spark_config, None, project
        )
        assert outcome.success, outcome.exception or [r.message for r in outcome.result.results if r.message]
    return database, project


@pytest.mark.parametrize("model", CROSS_DB_MODELS)
def test_the_cross_engine_macros_give_duckdbs_results_on_spark(cross_db_builds, model, tmp_path):
    database, _ = cross_db_builds
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        duck_columns, duck_rows = rows(con, f"marts.{model}")
    spark_columns, from_spark = spark_rows(f"marts.{model}", tmp_path)
    assert spark_columns == duck_columns
    assert len(duck_rows) >= 5
    assert_same_rows(from_spark, duck_rows, model)


def test_the_inputs_are_tricky_enough_to_tell_the_engines_apart(cross_db_builds):
    """Spot checks against values worked out by hand: the equality above is not between two empty answers."""
    database, _ = cross_db_builds
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        casts = dict(con.execute("select raw_text, as_bigint from marts.casts_and_times").fetchall())
        assert (casts["2.5"], casts["-2.5"], casts["1e3"], casts["garbage"]) == (3, -3, 1000, None)
        instant = con.execute(
            "select as_instant from marts.casts_and_times where raw_text = '2024-01-02T03:04Z'"
        ).fetchone()[0]
        assert instant.isoformat() == "2024-01-02T03:04:00+00:00"
        firsts = con.execute(
            "select distinct entity, first_by_rank_then_day, latest_first, joined from marts.ordered_aggregates "
            "order by entity"
        ).fetchall()
        assert firsts[0] == ("a", "first", "second", "null-date|second|first")
        assert firsts[1][1] == "tie-b"  # null days sort last, then the tiebreak decides
        value = con.execute("select json_value from marts.json_functions where doc_id = 1 and path = 'n'").fetchone()[0]
        assert value == '{"b":1,"c":[1,"x"]}'  # keys in the document's order, minified
        keys = con.execute(
            "select kind || n, time_key, at_epoch_ms, as_boolean, rate, first_element from marts.keys_and_rates"
        ).fetchall()
        by_id = {k[0]: k[1:] for k in keys}
        assert by_id["instant2"][:2] == ("key:2024-01-02 03:04:05.5+00", 1704164645500)
        assert by_id["instant5"][1] == 1704164645124  # .1235 ms rounds half away from zero
        assert by_id["instant8"][1] == -315583199877  # before 1970 too
        assert [by_id[f"word{n}"][2] for n in (1, 6, 14, 16, 19)] == [True, True, None, None, None]  # on, ' true', '2'
        assert str(by_id["ratio1"][3]) == "0.0713"  # 57/800 = 0.07125, half up
        assert by_id["ratio7"][3] is None  # denominator 0
        assert [by_id[f"array{n}"][4] for n in (1, 2, 4, 9)] == ["Paris", None, '{"a":1}', None]


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
        "timestamp_text": "cast(_ingested_at as varchar)",
        "epoch_ms": "epoch_ms(published_at)",
        "safe_cast_boolean": "try_cast(x as boolean)",
        "json_text_root_index": "json_extract_string(doc, '$[0]')",
        "json_array_size": "coalesce(json_array_length(doc, '$.vouchers_id'), 0)",
        "recomputed_rows": "select * from final",
        "recompute_strategy": "delete+insert",
        "recompute_strategy_default": "None",
        "key_bucket_partition": "None",
        "delete_rows_where": 'delete from "cross_db"."marts"."duckdb_spellings" where is_stack_parent',
        "drop_emptied_buckets": "",
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


def test_an_incremental_recompute_holds_what_a_full_refresh_gives_on_both_engines(cross_db_builds, tmp_path):
    """bucketed_recompute after its second, incremental round: changed keys recomputed, new keys added, deleted keys
    gone, untouched keys kept. On Spark (bucket overwrite) the round took every path, or the test says which not."""
    database, _ = cross_db_builds
    expected = sorted((f"key_{n}", "changed" if n % 3 == 0 else "first") for n in range(1, 46) if n % 5)
    with duckdb.connect(str(database), read_only=True) as con:
        assert rows(con, "marts.bucketed_recompute")[1] == expected
    assert spark_rows("marts.bucketed_recompute", tmp_path)[1] == expected

    buckets: dict[int, set[int]] = {}
    for key, bucket in spark_session().sql("select k, bucket from checks.input_key_buckets").collect():
        buckets.setdefault(bucket, set()).add(int(key.removeprefix("key_")))
    deleted = {n for n in range(1, 41) if n % 5 == 0}
    touched = {n for n in range(1, 46) if n % 3 == 0 or n > 40}
    # a bucket of deleted keys only: no overwrite writes it, the post-hook drops its partition
    assert any(keys <= deleted for keys in buckets.values())
    # buckets rewritten for a deleted or a recomputed key that also hold untouched keys, read back from the table
    assert any(keys & deleted and keys - deleted - touched for keys in buckets.values())
    assert any(keys & touched and keys - deleted - touched for keys in buckets.values())


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
            _, built = rows(con, f"duckdb_build.marts.{mart}")
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
