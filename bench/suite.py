"""The benchmark suite: generate a world, time every stage in its own process, print one table, save it as JSON.

Timings are medians of `--repeat` runs; each stage's peak resident memory is the largest of its runs, read
from the kernel for that child process alone. Ratios against baselines measured in the same run are what
the README quotes, because bare seconds depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.stages import webhook_files

REPO_ROOT = Path(__file__).resolve().parents[1]
FULL_SCALE_DELIVERIES = 1_000_000  # --scale 1: about 1M webhook deliveries (~500 MB NDJSON) plus Segment data
PROBE_CUSTOMERS = 200
INCREMENT_SHARE = 0.01  # "1% new data": the newest days of day-partitioned landing files

console = Console(stderr=True, log_path=False)


@dataclass
class Row:
    section: str
    metric: str
    value: float | None
    unit: str
    peak_rss_mb: float | None = None
    target: str = ""
    ok: bool | None = None
    detail: dict = field(default_factory=dict)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = ~1M webhook deliveries; 0.01 for a smoke run")
    parser.add_argument("--days", type=int, default=100, help="days of activity (the newest day is ~1%% of the data)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=3, help="runs per timed stage (the median is reported)")
    parser.add_argument("--query-repeats", type=int, default=20, help="executions of each dashboard query")
    parser.add_argument(
        "--dlt-events", type=int, default=10_000, help="deliveries dlt loads, once (its rate is compared)"
    )
    parser.add_argument(
        "--small-files", type=int, default=0, help="also ingest this many small webhook files (issue 3: 50000)"
    )
    parser.add_argument(
        "--large-landing-gb", type=float, default=0, help="also ingest a landing of this many GB (issue 3: 5)"
    )
    parser.add_argument(
        "--duckdb-memory-limit",
        default="2GB",
        help="also time a full build under this DuckDB memory cap (setting duckdb_memory_limit); '' to skip",
    )
    parser.add_argument(
        "--spark",
        action="store_true",
        help="also build the same warehouse on Spark: a local session and a standalone cluster of 2 workers",
    )
    parser.add_argument(
        "--work", type=Path, default=REPO_ROOT / "data" / "bench", help="generated worlds and scratch files"
    )
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON results file [bench/results/bench-<UTC time>.json]"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    started = datetime.now(UTC)
    out = args.out or REPO_ROOT / "bench" / "results" / f"bench-{started:%Y%m%dT%H%M%SZ}.json"
    args.work.mkdir(parents=True, exist_ok=True)
    scratch = args.work / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    runner = StageRunner(scratch / "logs")

    rows: list[Row] = []
    world = generate(args, runner, rows)
    landing = world / "landing"
    base, increment_share = split_increment(landing, scratch / "landing-base")
    webhooks_only = link_tree(landing, scratch / "landing-webhooks", only="voucherify/webhooks")

    ingest_section(args, runner, rows, webhooks_only, scratch)
    built, base_raw, duckdb_full_seconds = build_section(args, runner, rows, landing, base, increment_share, scratch)
    if args.spark:
        spark_section(args, runner, rows, base_raw, scratch, duckdb_full_seconds)
    dashboards_section(args, runner, rows, built)
    if args.small_files:
        small_files_section(args, runner, rows, landing, scratch)
    if args.large_landing_gb:
        large_landing_section(args, runner, rows, landing, scratch)

    report = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "parameters": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "world": json.loads((world / "world.json").read_text()),
        "results": [row.__dict__ for row in rows],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print_table(rows, report["world"])
    console.print(f"saved {out}")
    shutil.rmtree(scratch, ignore_errors=True)


# ── stages in child processes ───────────────────────────────────────────────────────────────────────


class StageRunner:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def __call__(self, stage: str, *, sample_tree: bool = False, **kwargs) -> tuple[dict, float]:
        """Run one stage in a fresh interpreter; return its result and its peak RSS in MB. With `sample_tree`, the
        peak is of the whole process tree (a Spark build's JVM, a cluster's daemons and executors), summed from
        samples every 0.2 s, since the kernel's figure covers the child alone."""
        self.count += 1
        log = self.log_dir / f"{self.count:03d}-{stage}.log"
        result_path = self.log_dir / f"{self.count:03d}-{stage}.json"
        command = [sys.executable, "-m", "bench.stages", stage, json.dumps({**kwargs, "result": str(result_path)})]
        tree_peak = [0.0]
        with log.open("w") as log_fh:
            proc = subprocess.Popen(command, stdout=log_fh, stderr=subprocess.STDOUT, cwd=REPO_ROOT)
            sampler = threading.Thread(target=_sample_tree_rss, args=(proc.pid, tree_peak), daemon=True)
            if sample_tree:
                sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise SystemExit(f"bench stage {stage} failed (exit {proc.returncode}); log {log}:\n{tail}")
        return json.loads(result_path.read_text()), max(usage.ru_maxrss / 1024, tree_peak[0])  # Linux: KiB

    def rounds(
        self, times: int, **stages: tuple[str, Callable[[int], dict], dict]
    ) -> dict[str, tuple[list[dict], float]]:
        """Run each named (stage, prepare(round) -> kwargs, fixed kwargs) once per round, interleaved (A B A B …),
        so that a change in the machine's load hits the stages being compared alike. Peak RSS is per name."""
        out: dict[str, tuple[list[dict], float]] = {name: ([], 0.0) for name in stages}
        for i in range(times):
            for name, (stage, prepare, kwargs) in stages.items():
                result, rss = self(stage, **kwargs, **prepare(i))
                results, peak = out[name]
                results.append(result)
                out[name] = (results, max(peak, rss))
        return out


def _sample_tree_rss(pid: int, peak: list[float]) -> None:
    """The largest summed RSS (MB) of process `pid` and all its descendants, until it exits."""
    import psutil

    try:
        root = psutil.Process(pid)
        while root.is_running() and root.status() != psutil.STATUS_ZOMBIE:
            total = 0
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            peak[0] = max(peak[0], total / 2**20)
            time.sleep(0.2)
    except psutil.Error:
        return


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


# ── the world ───────────────────────────────────────────────────────────────────────────────────────


def count_deliveries(landing: Path) -> tuple[int, int]:
    """Webhook deliveries (lines, or one per .json file) and bytes on disk of the webhook files."""
    deliveries = size = 0
    for path in webhook_files(landing):
        size += path.stat().st_size
        if path.name.endswith(".json"):
            deliveries += 1
            continue
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as fh:
            deliveries += sum(1 for _ in fh)
    return deliveries, size


def generator_version() -> str:
    """A digest of the generator's source: a cached world is reused only while the generator is unchanged."""
    digest = hashlib.sha256()
    for path in sorted((REPO_ROOT / "loyalty" / "generate").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def generate(args: argparse.Namespace, runner: StageRunner, rows: list[Row]) -> Path:
    """The world for this scale, generated once and kept under --work (the generator is deterministic)."""
    from loyalty.generate import generate_world

    target = max(1, round(FULL_SCALE_DELIVERIES * args.scale))
    probe = args.work / f"probe-d{args.days}-s{args.seed}-g{generator_version()}"
    if not (probe / "world.json").exists():
        shutil.rmtree(probe, ignore_errors=True)
        generate_world(out=probe / "landing", customers=PROBE_CUSTOMERS, days=args.days, seed=args.seed)
        (probe / "world.json").write_text(json.dumps({"deliveries": count_deliveries(probe / "landing")[0]}))
    per_customer = json.loads((probe / "world.json").read_text())["deliveries"] / PROBE_CUSTOMERS
    customers = max(20, round(target / per_customer))

    world = args.work / f"world-c{customers}-d{args.days}-s{args.seed}-g{generator_version()}"
    if not (world / "world.json").exists():
        shutil.rmtree(world, ignore_errors=True)
        console.log(f"generating {customers:,} customers × {args.days} days (≈{target:,} webhook deliveries)…")
        result, rss = runner(
            "generate", out=str(world / "landing"), customers=customers, days=args.days, seed=args.seed
        )
        deliveries, webhook_bytes = count_deliveries(world / "landing")
        landing_bytes = sum(
            p.stat().st_size for p in (world / "landing").rglob("*") if p.is_file() and "ground_truth" not in p.parts
        )
        (world / "world.json").write_text(
            json.dumps(
                {
                    "customers": customers,
                    "days": args.days,
                    "seed": args.seed,
                    "webhook_deliveries": deliveries,
                    "webhook_mb": round(webhook_bytes / 1e6, 1),
                    "landing_mb": round(landing_bytes / 1e6, 1),
                    "generate_seconds": round(result["seconds"], 1),
                    "generate_peak_rss_mb": round(rss),
                }
            )
        )
    info = json.loads((world / "world.json").read_text())
    console.log(f"world: {info['webhook_deliveries']:,} webhook deliveries, {info['landing_mb']:,} MB landing")
    return world


def link_tree(source: Path, dest: Path, *, only: str | None = None, skip: set[Path] = frozenset()) -> Path:
    """A landing folder of hard links (no copying), optionally limited to a sub-folder or without some files."""
    shutil.rmtree(dest, ignore_errors=True)
    root = source / only if only else source
    for path in root.rglob("*"):
        rel = path.relative_to(source)
        if not path.is_file() or rel.parts[0] == "ground_truth" or path in skip:
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(path, dest / rel)
    return dest


_DAY = re.compile(r"(20\d\d)[-/](\d\d)[-/](\d\d)")
_EPOCH_MS_DAY = re.compile(r"/(1\d{12})/")


def file_day(rel_path: str) -> str | None:
    if m := _DAY.search(rel_path):
        return "-".join(m.groups())
    if m := _EPOCH_MS_DAY.search(rel_path):
        return datetime.fromtimestamp(int(m.group(1)) / 1000, UTC).strftime("%Y-%m-%d")
    return None


def split_increment(landing: Path, base_dest: Path) -> tuple[Path, float]:
    """The landing without its newest days of day-partitioned files (≥1% of all bytes): what arrived before."""
    files = [p for p in landing.rglob("*") if p.is_file() and "ground_truth" not in p.relative_to(landing).parts]
    total = sum(p.stat().st_size for p in files)
    by_day: dict[str, list[Path]] = {}
    for path in files:
        if day := file_day(str(path.relative_to(landing))):
            by_day.setdefault(day, []).append(path)
    held_back: set[Path] = set()
    held_bytes = 0
    for day in sorted(by_day, reverse=True):
        if held_bytes >= INCREMENT_SHARE * total:
            break
        held_back.update(by_day[day])
        held_bytes += sum(p.stat().st_size for p in by_day[day])
    return link_tree(landing, base_dest, skip=held_back), held_bytes / total


# ── sections ────────────────────────────────────────────────────────────────────────────────────────


def ingest_section(args, runner: StageRunner, rows: list[Row], webhooks_only: Path, scratch: Path) -> None:
    console.log("ingest vs DuckDB read_json (and dlt) over the same webhook files…")

    def fresh(name: str):
        def prepare(i: int) -> dict:
            path = scratch / f"{name}-{i}.duckdb"
            path.unlink(missing_ok=True)
            return {"warehouse": str(path)}

        return prepare

    measured = runner.rounds(
        args.repeat,
        ours=("ingest", fresh("ingest"), {"landing": str(webhooks_only)}),
        ceiling=("read_json", fresh("read_json"), {"landing": str(webhooks_only)}),
    )
    (ours, ours_rss), (ceiling, ceiling_rss) = measured["ours"], measured["ceiling"]
    events = ours[0]["webhook_rows"]
    ours_rate = events / median(ours, "seconds")
    ceiling_rate = ceiling[0]["webhook_rows"] / median(ceiling, "seconds")
    rows.append(
        Row(
            "ingest",
            "webhook events/s (our ingest)",
            ours_rate,
            "events/s",
            ours_rss,
            detail={"events": events, "runs": ours},
        )
    )
    rows.append(
        Row(
            "ingest",
            "webhook events/s (DuckDB read_json)",
            ceiling_rate,
            "events/s",
            ceiling_rss,
            detail={"events": ceiling[0]["webhook_rows"], "runs": ceiling},
        )
    )
    ratio = ours_rate / ceiling_rate
    rows.append(Row("ingest", "ours / read_json", ratio, "×", target="≥ 0.70", ok=ratio >= 0.70))

    if importlib.util.find_spec("dlt") is None:
        rows.append(
            Row(
                "ingest",
                "ours / dlt",
                None,
                "×",
                target="≥ 10",
                detail={"skipped": "dlt not installed (pip install -e '.[bench]')"},
            )
        )
        return

    def fresh_dlt(i: int) -> dict:
        base = scratch / f"dlt-{i}"
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir()
        return {"pipelines_dir": str(base / "pipelines"), "warehouse": str(base / "dlt.duckdb")}

    # One run only: dlt takes minutes for a few thousand deliveries, and the ratio is far from the target.
    dlt_runs, dlt_rss = runner.rounds(
        1, dlt=("dlt", fresh_dlt, {"landing": str(webhooks_only), "max_events": args.dlt_events})
    )["dlt"]
    dlt_rate = dlt_runs[0]["webhook_rows"] / median(dlt_runs, "seconds")
    rows.append(
        Row(
            "ingest",
            "webhook events/s (dlt, defaults)",
            dlt_rate,
            "events/s",
            dlt_rss,
            detail={"events": dlt_runs[0]["webhook_rows"], "runs": dlt_runs},
        )
    )
    ratio = ours_rate / dlt_rate
    rows.append(Row("ingest", "ours / dlt", ratio, "×", target="≥ 10", ok=ratio >= 10))


def build_section(
    args, runner: StageRunner, rows: list[Row], landing: Path, base: Path, share: float, scratch: Path
) -> Path:
    console.log("ingest the whole landing, then full and incremental dbt builds…")
    base_raw = scratch / "base-raw.duckdb"
    result, rss = runner("ingest", landing=str(base), warehouse=str(base_raw))
    rows.append(
        Row(
            "ingest",
            "whole landing (all sources) seconds",
            result["seconds"],
            "s",
            rss,
            detail={"rows": result["rows"]},
        )
    )

    # Both builds at one path, as `loyalty run` builds: dbt keeps its partial parse only for the same path.
    warehouse = scratch / "build.duckdb"

    def fresh_copy(i: int) -> dict:
        shutil.copyfile(base_raw, warehouse)
        return {"warehouse": str(warehouse)}

    def with_new_data(i: int) -> dict:
        """This round's built warehouse plus the newest 1% of the landing ingested (not part of the build time)."""
        runner("ingest", landing=str(landing), warehouse=str(warehouse))
        return {"warehouse": str(warehouse)}

    measured = runner.rounds(
        args.repeat,
        full=("build", fresh_copy, {"full_refresh": True}),
        incremental=("build", with_new_data, {"full_refresh": False}),
    )
    (full, full_rss), (incremental, incremental_rss) = measured["full"], measured["incremental"]
    full_seconds = median(full, "seconds")
    rows.append(
        Row(
            "dbt",
            f"full build seconds ({result['rows']:,} raw events)",
            full_seconds,
            "s",
            full_rss,
            detail={"runs": full},
        )
    )
    incremental_seconds = median(incremental, "seconds")
    rows.append(
        Row(
            "dbt",
            f"incremental build seconds (+{share:.1%} new data)",
            incremental_seconds,
            "s",
            incremental_rss,
            detail={"runs": incremental},
        )
    )
    ratio = incremental_seconds / full_seconds
    rows.append(Row("dbt", "incremental / full", ratio, "×", target="≤ 0.15", ok=ratio <= 0.15))

    if args.duckdb_memory_limit:
        capped = scratch / "build-capped.duckdb"
        shutil.copyfile(base_raw, capped)
        result, rss = runner("build", warehouse=str(capped), full_refresh=True, memory_limit=args.duckdb_memory_limit)
        capped.unlink()
        rows.append(
            Row(
                "dbt",
                f"full build seconds, memory_limit {args.duckdb_memory_limit}",
                None if "failed" in result else result["seconds"],
                "s",
                rss,
                target="builds under the cap",
                ok="failed" not in result,
                detail={"uncapped_peak_rss_mb": full_rss, "run": result},
            )
        )
    return warehouse, base_raw, full_seconds


def spark_section(
    args, runner: StageRunner, rows: list[Row], base_raw: Path, scratch: Path, duckdb_full_seconds: float
) -> None:
    """The same warehouse (before its newest days) built in full on Spark from its Parquet raw layer: a local session
    in this machine's cores, then a standalone cluster of a master and two 1-core workers on loopback; each against
    DuckDB's full build of it."""
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("psutil") is None:
        raise SystemExit("--spark needs the spark and bench extras: pip install -e '.[spark,bench]' (make bench does)")
    for label, workers in (("local session", 0), ("standalone cluster, 2 workers", 2)):
        console.log(f"full dbt build on Spark, {label}…")
        warehouse = scratch / f"spark-{workers}.duckdb"
        shutil.copyfile(base_raw, warehouse)
        state = scratch / f"spark-{workers}-state"
        result, rss = runner(
            "spark_build", sample_tree=True, warehouse=str(warehouse), state=str(state), workers=workers
        )
        rows.append(Row("spark", f"full build seconds, {label}", result["seconds"], "s", rss, detail=result))
        rows.append(Row("spark", f"{label} / DuckDB full build", result["seconds"] / duckdb_full_seconds, "×"))
        shutil.rmtree(state, ignore_errors=True)
        shutil.rmtree(warehouse.with_name(warehouse.name + ".raw"), ignore_errors=True)
        warehouse.unlink()


def dashboards_section(args, runner: StageRunner, rows: list[Row], warehouse: Path) -> None:
    console.log("dashboard page queries…")
    result, rss = runner("dashboard_queries", warehouse=str(warehouse), repeats=args.query_repeats)
    for page, figures in result["pages"].items():
        p95 = figures["p95_ms"]
        rows.append(
            Row(
                "dashboards",
                f"{page} query p95 ({figures['queries']} queries)",
                p95,
                "ms",
                rss,
                target="≤ 200",
                ok=p95 <= 200,
                detail=figures,
            )
        )


def small_files_section(args, runner: StageRunner, rows: list[Row], landing: Path, scratch: Path) -> None:
    """Issue 3: many small webhook files must not blow ingest memory."""
    console.log(f"ingest of {args.small_files:,} small webhook files…")
    dest = scratch / "landing-small-files" / "voucherify" / "webhooks" / "receiver"
    lines = []
    for path in webhook_files(landing):
        if not path.name.endswith(".json"):
            opener = gzip.open if path.name.endswith(".gz") else open
            with opener(path, "rt", encoding="utf-8") as fh:
                lines.extend(line for line in fh if line.strip())
        if len(lines) >= args.small_files:
            break
    per_file = max(1, len(lines) // args.small_files)
    for i in range(args.small_files):
        chunk = lines[(i * per_file) % len(lines) :][:per_file] or lines[:per_file]
        target = dest / f"{i // 1000:03d}" / f"delivery-{i:06d}.ndjson"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(chunk), encoding="utf-8")
    warehouse = scratch / "small-files.duckdb"
    result, rss = runner("ingest", landing=str(dest.parents[2]), warehouse=str(warehouse))
    rows.append(
        Row(
            "memory",
            f"ingest {args.small_files:,} small files: peak RSS",
            rss,
            "MB",
            rss,
            target="≤ 2048",
            ok=rss <= 2048,
            detail={"seconds": result["seconds"], "rows": result["webhook_rows"]},
        )
    )


def large_landing_section(args, runner: StageRunner, rows: list[Row], landing: Path, scratch: Path) -> None:
    """Issue 3: a multi-GB landing loads with bounded memory. Copies of the world's webhook files under new paths."""
    target_bytes = args.large_landing_gb * 1e9
    files = webhook_files(landing)
    dest = scratch / "landing-large"
    written, copy = 0, 0
    while written < target_bytes:
        for path in files:
            rel = path.relative_to(landing / "voucherify" / "webhooks")
            out = dest / "voucherify" / "webhooks" / f"copy-{copy:03d}" / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            os.link(path, out)
            written += path.stat().st_size
        copy += 1
    console.log(f"ingest of a {written / 1e9:.1f} GB landing ({copy} copies of the webhook files)…")
    warehouse = scratch / "large.duckdb"
    started = time.perf_counter()
    result, rss = runner("ingest", landing=str(dest), warehouse=str(warehouse))
    rows.append(
        Row(
            "memory",
            f"ingest {written / 1e9:.1f} GB landing: peak RSS",
            rss,
            "MB",
            rss,
            target="≤ 2048",
            ok=rss <= 2048,
            detail={"seconds": time.perf_counter() - started, "rows": result["webhook_rows"]},
        )
    )


# ── output ──────────────────────────────────────────────────────────────────────────────────────────


def print_table(rows: list[Row], world: dict) -> None:
    table = Table(
        title=(
            f"loyalty benchmark: {world['webhook_deliveries']:,} webhook deliveries, {world['landing_mb']:,} MB landing"
        ),
    )
    for column in ("section", "metric", "value", "unit", "peak RSS MB", "target", ""):
        table.add_column(column, justify="right" if column in {"value", "peak RSS MB"} else "left")
    for row in rows:
        value = "-" if row.value is None else (f"{row.value:,.2f}" if row.value < 100 else f"{row.value:,.0f}")
        verdict = "" if row.ok is None else ("[green]ok[/green]" if row.ok else "[red]MISSED[/red]")
        if row.value is None:
            verdict = row.detail.get("skipped", "")
        table.add_row(
            row.section,
            row.metric,
            value,
            row.unit,
            f"{row.peak_rss_mb:,.0f}" if row.peak_rss_mb else "",
            row.target,
            verdict,
        )
    out = Console()
    if not out.is_terminal:
        out = Console(width=150)  # a redirected table keeps one line per row
    out.print(table)
