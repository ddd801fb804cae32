"""The engine contract of the CLI without starting Spark: `loyalty export` (DuckDB), `--engine` validation, and
when `loyalty ingest` writes the Parquet raw layer (only when asked, or when the Spark engine is configured)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parents[1]


def loyalty(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LOYALTY_")} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "loyalty.cli", *args],
        cwd=REPO_ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_export_writes_every_mart_as_one_parquet_file(built_world, tmp_path):
    out = tmp_path / "bi"
    done = loyalty("export", "--warehouse", str(built_world.warehouse), "--out", str(out))
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(built_world.warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        query = "select table_name from information_schema.tables where table_schema = 'marts'"
        marts = [m for (m,) in con.execute(query).fetchall()]
        assert sorted(p.name for p in out.iterdir()) == sorted(f"{m}.parquet" for m in marts)
        assert len(marts) >= 10
        for mart in marts:
            in_file = con.execute(f"select * from read_parquet('{out / mart}.parquet') order by all").fetchall()
            assert in_file == con.execute(f"select * from marts.{mart} order by all").fetchall(), mart
        for mart in marts:  # the file keeps the mart's types (times as TIMESTAMPTZ, money as DECIMAL)
            in_file = con.execute(f"describe from read_parquet('{out / mart}.parquet')").fetchall()
            assert [c[:2] for c in in_file] == [c[:2] for c in con.execute(f"describe marts.{mart}").fetchall()]


def test_an_unknown_engine_is_one_line(built_world, tmp_path):
    done = loyalty("export", "--warehouse", str(built_world.warehouse), "--out", str(tmp_path), "--engine", "oracle")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == ["error: --engine must be one of duckdb, spark, got 'oracle'"]


def test_ingest_writes_the_parquet_raw_layer_only_when_asked_or_for_the_spark_engine(generated_landing, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(generated_landing / "voucherify" / "exports", landing / "voucherify" / "exports")
    plain, asked, spark = (tmp_path / name / "w.duckdb" for name in ("plain", "asked", "spark"))
    assert loyalty("ingest", "--landing", str(landing), "--warehouse", str(plain)).returncode == 0
    assert not plain.with_name("w.duckdb.raw").exists()
    elsewhere = tmp_path / "lake" / "raw"
    env = {"LOYALTY_RAW_PARQUET": str(elsewhere)}
    assert loyalty("ingest", "--landing", str(landing), "--warehouse", str(asked), env=env).returncode == 0
    assert list(elsewhere.glob("voucherify_exports/batch=*/part-0.parquet"))
    env = {"LOYALTY_ENGINE": "spark"}
    assert loyalty("ingest", "--landing", str(landing), "--warehouse", str(spark), env=env).returncode == 0
    assert list(spark.with_name("w.duckdb.raw").glob("voucherify_exports/batch=*/part-0.parquet"))
