"""The whole dbt project on a real local Spark (session method, the test run's one JVM and metastore) from the Parquet
raw layer, against DuckDB and the generator's ground truth:

- a full build of a world missing its late files equals DuckDB's full build of the same warehouse, every mart row
  for row with the same types once handed over to DuckDB;
- after the late files arrive, Spark's incremental build equals DuckDB's full refresh, and the ground truth;
- the unit tests pass on Spark, and a `loyalty init` project (an extra trait, a mart of its own) builds there too.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import duckdb
import pytest
import yaml
from conftest import BuiltWorld
from test_models import _landing_without_late_files
from test_spark_engine import SPARK_STATE, assert_same_rows

from ingest import load_landing
from loyalty.build import build as duckdb_build
from loyalty.engines import spark
from loyalty.init import init
from tests import test_marts_truth

pytestmark = pytest.mark.slow
LEDGER_CHECK = "test.assert_points_ledger_sums_to_card_balance"


def marts_of(database: Path) -> dict[str, tuple[list[tuple], list[tuple]]]:
    """Every table of the `marts` schema: (column names and types, rows in a fixed order)."""
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        names = [
            n for (n,) in con.execute("select table_name from duckdb_tables() where schema_name = 'marts'").fetchall()
        ]
        return {
            name: (
                [tuple(c[:2]) for c in con.execute(f"describe marts.{name}").fetchall()],
                con.execute(f"select * from marts.{name} order by all").fetchall(),
            )
            for name in sorted(names)
        }


def assert_same_marts(from_spark: dict, from_duckdb: dict, what: str) -> None:
    assert sorted(from_spark) == sorted(from_duckdb), what
    for mart, (columns, rows) in from_duckdb.items():
        assert from_spark[mart][0] == columns, f"{what}: {mart} columns"
        assert_same_rows(from_spark[mart][1], rows, f"{what}: {mart}")


def spark_marts(warehouse: Path, config: spark.SparkConfig, into: Path, project_dir: Path | None = None) -> dict:
    """The Spark build's marts as `loyalty run --engine spark` hands them to the dashboards: into a DuckDB file."""
    spark.load_marts_into(warehouse, into, config, project_dir=project_dir)
    return marts_of(into)


def duckdb_marts(raw_warehouse: Path, copy: Path, project_dir: Path | None = None) -> dict:
    shutil.copyfile(raw_warehouse, copy)
    duckdb_build(copy, project_dir=project_dir)
    return marts_of(copy)


@pytest.fixture(scope="module")
def spark_builds(generated_landing, tmp_path_factory):
    """One warehouse built on Spark twice: in full before its late files arrive, incrementally after; DuckDB builds
    copies of the same raw data at both moments."""
    root = tmp_path_factory.mktemp("spark_project")
    warehouse = root / "warehouse.duckdb"
    config = spark.SparkConfig(master="local[2]", state=SPARK_STATE)
    raw_parquet = config.raw_folder(warehouse)
    timings = {}

    partial = _landing_without_late_files(generated_landing, root / "partial")
    # Segment syncs its `tracks` table with the per-event tables: Voucherify's arrives with the held-back loads too
    # (int_segment_events_deduped keeps the first copy ingested, and the bare tracks copy has no properties)
    (partial / "segment" / "warehouse" / "voucherify" / "tracks.csv").unlink()
    load_landing(partial, warehouse, progress=False, raw_parquet=raw_parquet)
    started = time.perf_counter()
    first = spark.build(warehouse, config, full_refresh=True)
    timings["full build"] = time.perf_counter() - started
    first_marts = spark_marts(warehouse, config, root / "spark_first.duckdb")
    first_duckdb = duckdb_marts(warehouse, root / "duckdb_first.duckdb")

    load_landing(generated_landing, warehouse, progress=False, raw_parquet=raw_parquet)  # the late files arrive
    started = time.perf_counter()
    second = spark.build(warehouse, config)
    timings["incremental build"] = time.perf_counter() - started
    published = root / "spark_second.duckdb"
    second_marts = spark_marts(warehouse, config, published)
    second_duckdb = duckdb_marts(warehouse, root / "duckdb_second.duckdb")
    print("spark builds: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    return {
        "warehouse": warehouse,
        "config": config,
        "root": root,
        "first": (first, first_marts, first_duckdb),
        "second": (second, second_marts, second_duckdb),
        "published": published,
    }


def test_a_full_spark_build_equals_duckdb_mart_for_mart(spark_builds):
    build, from_spark, from_duckdb = spark_builds["first"]
    assert len(from_duckdb) >= 10
    assert all(from_duckdb[mart][1] for mart in ("fct_orders", "fct_redemptions", "fct_loyalty_points", "dim_members"))
    assert_same_marts(from_spark, from_duckdb, "full build")
    models = {n.name for n in build.nodes if n.resource_type == "model"}
    assert {"model.fct_orders", "model.dim_members", "model.fct_redemptions"} <= models
    assert not build.failed
    # the data tests ran on Spark: the ledger check warns while a held-back transaction leaves a gap
    assert {n.name: n.status for n in build.nodes}[LEDGER_CHECK] == "warn"


def test_an_incremental_spark_build_equals_a_full_refresh(spark_builds):
    build, from_spark, from_duckdb = spark_builds["second"]
    _, first, _ = spark_builds["first"]
    assert from_spark != first, "the late files changed nothing: the comparison would prove nothing"
    assert_same_marts(from_spark, from_duckdb, "incremental build")
    assert {n.name: n.status for n in build.nodes}[LEDGER_CHECK] == "pass"  # the gap is filled


@pytest.mark.parametrize(
    "mart, truth_file, key", test_marts_truth.TRUTH_FILES, ids=[t[0] for t in test_marts_truth.TRUTH_FILES]
)
def test_spark_marts_equal_the_ground_truth(spark_builds, generated_landing, mart, truth_file, key):
    world = BuiltWorld(generated_landing, spark_builds["published"], generated_landing / "ground_truth")
    test_marts_truth.test_mart_equals_ground_truth(world, mart, truth_file, key)


def test_spark_aggregates_equal_the_ground_truth_recomputed(spark_builds, generated_landing):
    world = BuiltWorld(generated_landing, spark_builds["published"], generated_landing / "ground_truth")
    test_marts_truth.test_agg_location_daily_equals_ground_truth(world)
    test_marts_truth.test_fct_campaign_performance_equals_ground_truth(world)


def test_the_unit_tests_pass_on_spark(spark_builds):
    config = spark_builds["config"]
    outcome = spark.run_dbt(["test", "--select", "test_type:unit"], config.state_folder(spark_builds["warehouse"]),
                            config, None)  # fmt: skip
    results = outcome.result.results
    assert len(results) >= 6
    assert all(str(getattr(r.status, "value", r.status)) == "pass" for r in results), [
        (r.node.name, r.status, r.message) for r in results
    ]


def test_a_loyalty_init_project_builds_on_spark_with_its_own_traits_and_marts(spark_builds):
    """The package is linked with `dbt deps`, the project's var reaches dim_members and its own mart is a mart."""
    root, warehouse, config = spark_builds["root"], spark_builds["warehouse"], spark_builds["config"]
    project = root / "my_loyalty"
    init(project)
    settings = yaml.safe_load((project / "dbt_project.yml").read_text())
    settings["vars"]["extra_member_traits"] = [
        {"name": "frequent_buyer", "description": "Two paid orders or more.", "sql": "orders_count >= 2"}
    ]
    (project / "dbt_project.yml").write_text(yaml.safe_dump(settings, sort_keys=False))
    (project / "models" / "members_by_tier.sql").write_text(
        "select coalesce(current_tier, 'none') as tier, count(*) as members,\n"
        "    count(case when frequent_buyer then 1 end) as frequent_buyers\n"
        "from {{ ref('dim_members') }}\ngroup by 1\n"
    )
    # the rest of the project is built already; these two carry the project's changes
    spark.build(warehouse, config, project_dir=project, select="dim_members members_by_tier")
    assert (project / "dbt_packages" / "loyalty").exists()
    from_spark = spark_marts(warehouse, config, root / "spark_user.duckdb", project_dir=project)
    from_duckdb = duckdb_marts(warehouse, root / "duckdb_user.duckdb", project_dir=project)
    assert "members_by_tier" in from_spark
    assert ("frequent_buyer", "BOOLEAN") in from_spark["dim_members"][0]
    assert any(row[2] for row in from_spark["members_by_tier"][1])  # some members are frequent buyers
    for mart in ("dim_members", "members_by_tier"):
        assert from_spark[mart][0] == from_duckdb[mart][0], mart
        assert_same_rows(from_spark[mart][1], from_duckdb[mart][1], mart)
