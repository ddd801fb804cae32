"""The timed stages. Each runs alone in a child process (`python -m bench.stages <stage> <json args>`) so that
the parent can read that child's peak resident memory from the kernel (wait4), and writes its result as
JSON to the `result` path it is given (stdout belongs to the code under test).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
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


def build(warehouse: str, full_refresh: bool) -> dict:
    """One `dbt build` through the project's build entry point, as `loyalty run` does it."""
    from loyalty.build import build as dbt_build

    started = time.perf_counter()
    result = dbt_build(Path(warehouse), full_refresh=full_refresh)
    slowest = sorted(result.nodes, key=lambda node: node.seconds, reverse=True)[:8]
    return {
        "seconds": time.perf_counter() - started,
        "nodes": len(result.nodes),
        "nodes_seconds": sum(node.seconds for node in result.nodes),
        "slowest": {node.name: node.seconds for node in slowest},  # where a build's time goes
    }


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
    "dashboard_queries": dashboard_queries,
}


def main() -> None:
    name, args = sys.argv[1], json.loads(sys.argv[2])
    result_path = Path(args.pop("result"))
    result = STAGES[name](**args)
    result_path.write_text(json.dumps(result))


if __name__ == "__main__":
    main()
