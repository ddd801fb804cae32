"""`loyalty status`: freshness per source, recent runs, rejected records; exit 5 when data is stale.

Freshness of a source is the age of its newest record in the published warehouse, dated by the column
the source registry names (ingest/landing.py). A source that never delivered anything is shown but not
judged; a warehouse with no data at all is stale. Runs come from the run log next to the warehouse
(failed runs included) and from `ops.runs` inside it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from ingest.landing import SOURCES, freshness_sql
from loyalty.errors import EXIT_OK, EXIT_STALE, LoyaltyError
from loyalty.publish import open_published
from loyalty.run import read_runs

RECENT_RUNS = 10


def status(warehouse: Path, stale_after_hours: float, *, as_json: bool = False) -> int:
    """Print the warehouse's status; return EXIT_STALE when a source is older than the threshold."""
    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise LoyaltyError(f"no warehouse at {warehouse}: run `loyalty run` first (or pass --warehouse)")
    now = datetime.now(UTC)
    try:
        con = open_published(warehouse)
    except duckdb.Error as exc:
        raise LoyaltyError(f"cannot open {warehouse} read-only: {exc}") from exc
    try:
        sources = _freshness(con, now, stale_after_hours)
        rejected = _rejected(con)
        runs = read_runs(warehouse, con)[:RECENT_RUNS]
    finally:
        con.close()
    stale = any(s["stale"] for s in sources) or not any(s["rows"] for s in sources)
    report = {
        "warehouse": str(warehouse),
        "checked_at": now.isoformat(),
        "stale_after_hours": stale_after_hours,
        "stale": stale,
        "sources": sources,
        "rejected_records": rejected,
        "runs": [_run_summary(r) for r in runs],
    }
    if as_json:
        print(json.dumps(report, default=str))
    else:
        _print(report)
    return EXIT_STALE if stale else EXIT_OK


def _freshness(con: duckdb.DuckDBPyConnection, now: datetime, stale_after_hours: float) -> list[dict]:
    tables = {
        f"{s}.{t}" for s, t in con.execute("select table_schema, table_name from information_schema.tables").fetchall()
    }
    if {"raw.ingest_files", *(s.raw_table for s in SOURCES.values())} <= tables:
        rows = con.execute(freshness_sql()).fetchall()
    else:  # nothing was ever ingested into this file
        rows = [(source, 0, None, None) for source in SOURCES]
    result = []
    for source, count, newest, last_loaded in rows:
        age_hours = (now - newest).total_seconds() / 3600 if newest is not None else None
        result.append(
            {
                "source": source,
                "rows": count,
                "newest_record_at": newest.isoformat() if newest else None,
                "last_loaded_at": last_loaded.isoformat() if last_loaded else None,
                "age_hours": round(age_hours, 2) if age_hours is not None else None,
                "stale": age_hours is not None and age_hours > stale_after_hours,
            }
        )
    return result


def _rejected(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'raw' and table_name = 'rejected_records'"
    ).fetchone()[0]
    if not exists:
        return {}
    return dict(
        con.execute("select source, count(*) from raw.rejected_records group by source order by source").fetchall()
    )


def _run_summary(run: dict) -> dict:
    return {
        "run_id": run.get("run_id"),
        "started_at": run.get("started_at"),
        "finished_at": run.get("finished_at"),
        "outcome": run.get("outcome"),
        "rows_loaded": sum((run.get("rows_loaded") or {}).values()),
        "rows_rejected": sum((run.get("rows_rejected") or {}).values()),
        "dbt_counts": (run.get("dbt_results") or {}).get("counts", {}),
        "error": run.get("error"),
    }


def _print(report: dict) -> None:
    console = Console()
    if not console.is_terminal:
        console = Console(width=140)  # mail from cron, a log file: one line per row
    verdict = "[red]STALE[/red]" if report["stale"] else "[green]fresh[/green]"
    console.print(f"{report['warehouse']}: {verdict} (threshold {report['stale_after_hours']:g} h)")

    sources = Table(title="Freshness per source")
    for column in ("source", "rows", "newest record (UTC)", "age (h)", "last loaded (UTC)", ""):
        sources.add_column(column, justify="right" if column in {"rows", "age (h)"} else "left")
    for s in report["sources"]:
        flag = "[red]stale[/red]" if s["stale"] else ("no data" if not s["rows"] else "ok")
        sources.add_row(
            s["source"],
            f"{s['rows']:,}",
            _short(s["newest_record_at"]),
            f"{s['age_hours']:.1f}" if s["age_hours"] is not None else "-",
            _short(s["last_loaded_at"]),
            flag,
        )
    console.print(sources)

    if report["rejected_records"]:
        rejected = Table(title="Rejected records (raw.rejected_records)")
        rejected.add_column("source")
        rejected.add_column("records", justify="right")
        for source, count in report["rejected_records"].items():
            rejected.add_row(source, f"{count:,}")
        console.print(rejected)
    else:
        console.print("Rejected records: none")

    runs = Table(title="Recent runs")
    for column in ("run", "started (UTC)", "finished (UTC)", "outcome", "rows", "rejected", "error"):
        runs.add_column(column, justify="right" if column in {"rows", "rejected"} else "left")
    for r in report["runs"]:
        outcome = r["outcome"] if r["outcome"] == "succeeded" else f"[red]{r['outcome']}[/red]"
        runs.add_row(
            r["run_id"],
            _short(r["started_at"]),
            _short(r["finished_at"]),
            outcome,
            f"{r['rows_loaded']:,}",
            f"{r['rows_rejected']:,}",
            (r["error"] or "")[:80],
        )
    console.print(runs if report["runs"] else "Recent runs: none recorded")


def _short(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "-"
