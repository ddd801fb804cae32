"""The timed stages. Each runs alone in a child process (`python -m bench.stages <stage> <json args>`) so that
the parent can read that child's peak resident memory from the kernel (wait4), and writes its result as
JSON to the `result` path it is given (stdout belongs to the code under test).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

# The Voucherify webhook envelope's top-level keys (v2024 and legacy v2018): the explicit column list that
# makes DuckDB's read_json fast, nested objects kept as JSON like our raw layer keeps the payload.
ENVELOPE_COLUMNS = {
    "id": "VARCHAR",
    "object": "VARCHAR",
    "project_id": "VARCHAR",
    "webhook_id": "VARCHAR",
    "created_at": "VARCHAR",
    "type": "VARCHAR",
    "data": "JSON",
    "source": "JSON",
    "event": "JSON",
    "metadata": "JSON",
}


def webhook_files(landing: Path) -> list[Path]:
    root = landing / "voucherify" / "webhooks"
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith((".ndjson", ".ndjson.gz", ".json")))


def generate(out: str, customers: int, days: int, seed: int) -> dict:
    from loyalty.generate import generate_world

    started = time.perf_counter()
    generate_world(out=Path(out), customers=customers, days=days, seed=seed)
    return {"seconds": time.perf_counter() - started}


def ingest(landing: str, warehouse: str) -> dict:
    """Our ingest (`ingest.load_landing`) into a warehouse; rows are what landed in raw."""
    import duckdb

    from ingest import load_landing

    started = time.perf_counter()
    load_landing(Path(landing), Path(warehouse))
    seconds = time.perf_counter() - started
    with duckdb.connect(warehouse, read_only=True) as con:
        webhooks = con.execute("select count(*) from raw.voucherify_webhooks").fetchone()[0]
        all_rows = con.execute("select coalesce(sum(rows_loaded), 0) from raw.ingest_files").fetchone()[0]
    return {"seconds": seconds, "webhook_rows": webhooks, "rows": int(all_rows)}


def read_json_baseline(landing: str, warehouse: str) -> dict:
    """DuckDB's own read_json into a table over the same webhook files: the ceiling for our ingest."""
    import duckdb

    files = webhook_files(Path(landing))
    lines = [str(p) for p in files if not p.name.endswith(".json")]
    bodies = [str(p) for p in files if p.name.endswith(".json")]
    started = time.perf_counter()
    with duckdb.connect(warehouse) as con:
        con.execute("set preserve_insertion_order = false")
        con.execute(
            "create table webhooks as select * from read_json($files, format = 'newline_delimited', "
            "columns = $columns, filename = true, ignore_errors = true)",
            {"files": lines, "columns": ENVELOPE_COLUMNS},
        )
        if bodies:
            con.execute(
                "insert into webhooks select * from read_json($files, format = 'auto', columns = $columns, "
                "filename = true, ignore_errors = true)",
                {"files": bodies, "columns": ENVELOPE_COLUMNS},
            )
        con.execute("checkpoint")
        rows = con.execute("select count(*) from webhooks").fetchone()[0]
    return {"seconds": time.perf_counter() - started, "webhook_rows": rows}


def dlt_baseline(landing: str, pipelines_dir: str, warehouse: str, max_events: int) -> dict:
    """dlt loading the same webhook files into DuckDB with its defaults (nested objects normalised to tables).

    dlt is slow enough that it loads the first `max_events` deliveries only; its rate is what is compared.
    """
    import gzip

    import dlt

    def deliveries():
        sent = 0
        for path in webhook_files(Path(landing)):
            if path.name.endswith(".json"):
                texts = [path.read_text(encoding="utf-8")]
            else:
                opener = gzip.open if path.name.endswith(".gz") else open
                with opener(path, "rt", encoding="utf-8") as fh:
                    texts = fh.readlines()
            for text in texts:
                try:
                    yield json.loads(text)
                except json.JSONDecodeError:
                    continue  # the generator's one deliberately truncated line
                sent += 1
                if sent >= max_events:
                    return

    events = list(deliveries())  # read outside the timer, so only dlt's own work is timed
    pipeline = dlt.pipeline(
        pipeline_name="bench_webhooks",
        pipelines_dir=pipelines_dir,
        destination=dlt.destinations.duckdb(warehouse),
        dataset_name="raw",
    )
    started = time.perf_counter()
    pipeline.run(events, table_name="voucherify_webhooks", write_disposition="append")
    return {"seconds": time.perf_counter() - started, "webhook_rows": len(events)}


def build(warehouse: str, full_refresh: bool, memory_limit: str | None = None) -> dict:
    """One `dbt build` through the project's build entry point, as `loyalty run` does it; with `memory_limit`, under
    that DuckDB memory cap (setting duckdb_memory_limit), spilling to <warehouse>.tmp beyond it, and a build that
    runs out of memory under the cap is reported (the nodes that failed), not raised."""
    from loyalty.build import BuildFailed
    from loyalty.build import build as dbt_build

    started = time.perf_counter()
    if memory_limit:
        os.environ["LOYALTY_DUCKDB_MEMORY_LIMIT"] = memory_limit
    try:
        result = dbt_build(Path(warehouse), full_refresh=full_refresh)
    except BuildFailed as failure:
        if not memory_limit:
            raise
        failed = [node.name for node in failure.result.failed]
        return {"seconds": time.perf_counter() - started, "failed": failed, "error": str(failure)}
    slowest = sorted(result.nodes, key=lambda node: node.seconds, reverse=True)[:8]
    return {
        "seconds": time.perf_counter() - started,
        "nodes": len(result.nodes),
        "nodes_seconds": sum(node.seconds for node in result.nodes),
        "slowest": {node.name: node.seconds for node in slowest},  # where a build's time goes
    }


def spark_build(warehouse: str, state: str, workers: int) -> dict:
    """A full `dbt build` on Spark from the warehouse's Parquet raw layer (written first, untimed): a local session
    (`local[*]`), or with `workers` > 0 a standalone cluster of a master and that many workers (1 core, 1 GB each)
    started from pyspark's own jars on loopback and stopped afterwards."""
    import duckdb

    from ingest import parquet_layer
    from loyalty.engines import spark

    warehouse_path = Path(warehouse)
    config = spark.SparkConfig(master="local[*]", state=Path(state))
    with duckdb.connect(warehouse, read_only=True) as con:
        parquet_layer.write_new_batches(con, config.raw_folder(warehouse_path))
    with standalone_cluster(workers, Path(state) / "cluster") as master:
        if master:
            config = spark.SparkConfig(master=master, driver_memory="1g", state=Path(state))
        started = time.perf_counter()
        result = spark.build(warehouse_path, config, full_refresh=True)
        seconds = time.perf_counter() - started
    slowest = sorted(result.nodes, key=lambda node: node.seconds, reverse=True)[:8]
    return {
        "seconds": seconds,
        "nodes": len(result.nodes),
        "master": config.master,
        "slowest": {node.name: node.seconds for node in slowest},
    }


@contextmanager
def standalone_cluster(workers: int, folder: Path):
    """A Spark standalone master and `workers` workers on loopback (`spark-class` from the pyspark wheel); yields the
    master's URL (None without workers); every daemon is stopped by its process group afterwards."""
    if not workers:
        yield None
        return
    import pyspark

    spark_home = Path(pyspark.__file__).resolve().parent
    env = os.environ | {"SPARK_HOME": str(spark_home), "SPARK_LOCAL_IP": "127.0.0.1"}
    folder.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    daemons = []

    def start(name: str, *args: str) -> None:
        with open(folder / f"{name}.log", "wb") as log:
            daemons.append(
                subprocess.Popen([str(spark_home / "bin" / "spark-class"), *args], cwd=folder, env=env, stdout=log,
                                 stderr=log, start_new_session=True)
            )  # fmt: skip

    try:
        start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
              "--webui-port", str(_free_port()))  # fmt: skip
        _wait_for_port(port)
        master = f"spark://127.0.0.1:{port}"
        for n in range(1, workers + 1):
            start(f"worker{n}", "org.apache.spark.deploy.worker.Worker", master, "--host", "127.0.0.1",
                  "--cores", "1", "--memory", "1g", "--webui-port", str(_free_port()),
                  "--work-dir", str(folder / f"worker{n}"))  # fmt: skip
        time.sleep(5)  # the workers register with the master
        yield master
    finally:
        for daemon in daemons:
            if daemon.poll() is None:
                os.killpg(daemon.pid, signal.SIGTERM)
        for daemon in daemons:
            daemon.wait(timeout=60)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_port(port: int, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise RuntimeError(f"the Spark master did not listen on {port} within {seconds} s")


def dashboard_queries(warehouse: str, repeats: int) -> dict:
    """Every page's queries (as the dashboards run them, uncached), `repeats` times: per-page latency percentiles."""
    import os

    os.environ["LOYALTY_WAREHOUSE"] = warehouse
    from dashboards import db, filters, queries
    from loyalty.push.log import fold_push_log

    # The Activation queries read the ops push tables that `loyalty run` folds into every build it publishes.
    fold_push_log(Path(warehouse), Path(warehouse))

    params = filters.sample_params()
    pages = {}
    for page, statements in queries.PAGE_QUERIES.items():
        samples: list[float] = []
        per_query: dict[str, list[float]] = {name: [] for name in statements}
        for sql in statements.values():
            db.query_uncached(sql, params)  # warm the connection and DuckDB's caches once
        for _ in range(repeats):
            for name, sql in statements.items():
                started = time.perf_counter()
                db.query_uncached(sql, params)
                elapsed = (time.perf_counter() - started) * 1000
                samples.append(elapsed)
                per_query[name].append(elapsed)
        pages[page] = {
            "queries": len(statements),
            "p50_ms": percentile(samples, 50),
            "p95_ms": percentile(samples, 95),
            "worst_query": max(per_query, key=lambda n: percentile(per_query[n], 95)),
            "worst_query_p95_ms": max(percentile(v, 95) for v in per_query.values()),
        }
    return {"pages": pages}


def percentile(values: list[float], pct: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(pct) - 1]


STAGES = {
    "generate": generate,
    "ingest": ingest,
    "read_json": read_json_baseline,
    "dlt": dlt_baseline,
    "build": build,
    "spark_build": spark_build,
    "dashboard_queries": dashboard_queries,
}


def main() -> None:
    name, args = sys.argv[1], json.loads(sys.argv[2])
    result_path = Path(args.pop("result"))
    result = STAGES[name](**args)
    result_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
