"""The Spark engine's other two ways to run, on loopback, with processes started from pyspark's own jars (slow):

- the thrift method against a Spark Thrift server (HiveThriftServer2, as EMR or a self-run cluster offers);
- the session method against a standalone cluster, a master and two workers, so the work runs in executor
  processes outside this one.

The standalone cluster builds the whole project from the Parquet raw layer: every mart must equal DuckDB's row for
row (with the same types once handed over) and the ground truth. The thrift server builds the order models (staging
views, the incremental snapshots, the key-bucketed latest orders) and must equal DuckDB row for row.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from conftest import BuiltWorld
from test_spark_engine import SPARK_STATE, assert_same_rows, prepared_world, rows
from test_spark_project import assert_same_marts, marts_of, spark_marts

from loyalty.engines import spark
from tests import test_marts_truth

pytestmark = pytest.mark.slow
SPARK_HOME = Path(__import__("pyspark").__file__).resolve().parent
# What the thrift server builds (dbt selection) and the relations compared: staging views, an incremental model that
# appends new keys, and a key-bucketed one that overwrites touched buckets (macros/cross_db/incremental.sql).
THRIFT_SELECTION = "+int_orders_latest"
THRIFT_RELATIONS = [
    "staging.stg_voucherify__webhook_orders",
    "staging.stg_voucherify__export_orders",
    "intermediate.int_order_snapshots_unioned",
    "intermediate.int_orders_latest",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, log: Path, seconds: float = 180) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if process.poll() is not None:
            pytest.fail(f"{process.args[1:3]} exited {process.returncode}: {log.read_text()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return time.monotonic() - started
        time.sleep(0.5)
    pytest.fail(f"nothing listened on {port} after {seconds} s: {log.read_text()[-2000:]}")


@pytest.fixture()
def started(tmp_path) -> Iterator:
    """Start Spark's own daemons (spark-class / spark-submit from the wheel); stop each by its pid afterwards."""
    processes: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"{name}.log"
        env = os.environ | {"SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1"}
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [str(SPARK_HOME / "bin" / args[0]), *args[1:]], cwd=tmp_path, env=env, stdout=out, stderr=out,
                start_new_session=True,
            )  # fmt: skip
        processes.append(process)
        return process, log

    yield start
    for process in reversed(processes):
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_thrift_method_builds_on_a_spark_thrift_server(built_world, started, tmp_path):
    warehouse = prepared_world(built_world, tmp_path)
    port = free_port()
    server_state = tmp_path / "thrift-server"
    metastore = f"jdbc:derby:;databaseName={server_state / 'metastore'};create=true"
    server, log = started(
        "thrift-server", "spark-submit", "--class", "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
        "--master", "local[2]",
        "--conf", f"spark.sql.warehouse.dir={server_state / 'warehouse'}",
        "--conf", f"spark.hadoop.javax.jdo.option.ConnectionURL={metastore}",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.session.timeZone=UTC",
        "--conf", "spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS",
        "--hiveconf", f"hive.server2.thrift.port={port}", "--hiveconf", "hive.server2.thrift.bind.host=127.0.0.1",
        "spark-internal",
    )  # fmt: skip
    seconds = wait_for_port(port, server, log)
    print(f"thrift server listening after {seconds:.1f} s")

    config = spark.SparkConfig(method="thrift", host="127.0.0.1", port=port, state=tmp_path / "state")
    result = spark.build(warehouse, config, select=THRIFT_SELECTION)
    assert {f"model.{r.split('.')[1]}" for r in THRIFT_RELATIONS} <= {n.name for n in result.nodes}
    print(f"thrift build: {result.seconds:.1f} s")

    # The server writes each model as Parquet (its own SQL, through the same connection dbt used); DuckDB reads them.
    from pyhive import hive

    connection = hive.connect(host="127.0.0.1", port=port)
    cursor = connection.cursor()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        con.execute("set TimeZone = 'UTC'")
        for relation in THRIFT_RELATIONS:
            folder = tmp_path / "from-thrift" / relation
            cursor.execute(f"describe {relation}")
            bucketed = "_spark_bucket" in {row[0] for row in cursor.fetchall()}
            columns = "* except (_spark_bucket)" if bucketed else "*"
            cursor.execute(f"insert overwrite directory '{folder}' using parquet select {columns} from {relation}")
            _, expected = rows(con, relation)
            with duckdb.connect() as reader:
                reader.execute("set TimeZone = 'UTC'")
                _, from_thrift = rows(reader, f"read_parquet('{folder}/*.parquet')")
            assert expected, relation
            assert_same_rows(from_thrift, expected, relation)
    connection.close()


def test_standalone_cluster_of_two_workers_runs_the_build_in_executor_processes(built_world, started, tmp_path):
    warehouse = prepared_world(built_world, tmp_path)
    master_port, worker_dirs = free_port(), []
    master, log = started(
        "master", "spark-class", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
        "--port", str(master_port), "--webui-port", str(free_port()),
    )  # fmt: skip
    wait_for_port(master_port, master, log)
    url = f"spark://127.0.0.1:{master_port}"
    for n in (1, 2):
        worker_dirs.append(tmp_path / f"worker{n}")
        started(
            f"worker{n}", "spark-class", "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
            "--cores", "1", "--memory", "1g", "--webui-port", str(free_port()), "--work-dir", str(worker_dirs[-1]),
        )  # fmt: skip
    time.sleep(5)  # workers register with the master

    config = spark.SparkConfig(master=url, driver_memory="1g", state=SPARK_STATE)  # this process's one metastore
    result = spark.build(warehouse, config, full_refresh=True)
    assert not result.failed
    print(f"standalone build (master + 2 workers): {result.seconds:.1f} s")

    from pyspark.sql import SparkSession

    context = SparkSession.builder.getOrCreate().sparkContext
    assert context.master == url
    executors = context._jsc.sc().getExecutorMemoryStatus().size() - 1  # minus the driver
    assert executors == 2
    # Each worker ran an executor process for this application, with its own log.
    assert all(list(d.glob("app-*/*/stderr")) for d in worker_dirs)
    published = tmp_path / "published.duckdb"
    from_cluster = spark_marts(warehouse, config, published)
    SparkSession.builder.getOrCreate().stop()  # before its cluster goes: the next build starts a local session
    assert_same_marts(from_cluster, marts_of(built_world.warehouse), "standalone cluster")
    world = BuiltWorld(built_world.landing, published, built_world.truth_dir)
    for mart, truth_file, key in test_marts_truth.TRUTH_FILES:
        test_marts_truth.test_mart_equals_ground_truth(world, mart, truth_file, key)
