"""`loyalty generate`: a deterministic synthetic loyalty world written in every real source format.

generate_world(out, customers, days, seed, end_date) simulates one retailer (members and non-members, six POS
stores plus `Mobile App` and `Web`, a Voucherify loyalty program and discount campaigns) and writes the same facts as
Voucherify webhooks (v2024 project + distribution, legacy v2018), Exports API CSVs, Segment warehouse dumps and the
Segment raw archive, plus `<out>/ground_truth/` (never ingested).

summary.json keys: world{customers, members, days, start, end}; redemptions{rows, by_status, by_failure_code,
stack_parents, rollbacks_failed, discount_given}; orders{rows, by_status, paid, revenue, member_paid};
loyalty_points{rows, points_by_movement, rows_by_type}; tiers{joined, upgraded, ...}; publications{rows};
reconciliation{rows, differing_rows, differing_by_metric, why};
deliveries{deliveries, duplicates, late, legacy, single_json, by_type};
segment{messages, warehouse_rows, archive_messages, ...}; expected_rejections{<raw source>: n}.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from loyalty.errors import LoyaltyError

__all__ = ["generate_world"]


def generate_world(
    out: Path, customers: int, days: int, seed: int, end_date: date | None = None, show_progress: bool = False
) -> dict:
    """Write the world for `seed` ending at `end_date` (default: today UTC) into `out`; return the summary."""
    from loyalty.generate.world import World

    if customers < 1 or days < 1:
        raise LoyaltyError("--customers and --days must be at least 1")
    out = Path(out)
    if end_date is None:
        end_date = datetime.now(UTC).date()
    end_ms = int(datetime(end_date.year, end_date.month, end_date.day, tzinfo=UTC).timestamp()) * 1000
    start_ms = end_ms - days * 86_400_000
    generated_before = (out / "ground_truth" / "summary.json").exists()
    if not generated_before and any((out / sub).exists() for sub in ("voucherify", "segment")):
        raise LoyaltyError(
            f"{out} already holds landing data that `loyalty generate` did not write; choose another --out"
        )
    for sub in ("voucherify", "segment", "ground_truth"):
        # Regenerating replaces the previous world instead of mixing two.
        if (out / sub).exists():
            shutil.rmtree(out / sub)
    out.mkdir(parents=True, exist_ok=True)
    if show_progress:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), transient=True) as progress:
            world = World(out, customers, days, seed, start_ms, progress=progress)
            world.run()
    else:
        world = World(out, customers, days, seed, start_ms)
        world.run()
    return json.loads((out / "ground_truth" / "summary.json").read_text())


def print_summary(summary: dict, out: Path, seconds: float) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Generated world in {out}", show_header=False)
    w, d = summary["world"], summary["deliveries"]
    table.add_row("customers / members", f"{w['customers']:,} / {w['members']:,}")
    table.add_row("window", f"{w['start'][:10]} → {w['end'][:10]} ({w['days']} days)")
    table.add_row(
        "webhook deliveries", f"{d['deliveries']:,} (+{d['duplicates']:,} duplicates, {d['legacy']:,} legacy)"
    )
    table.add_row(
        "orders (paid) / revenue",
        f"{summary['orders']['rows']:,} ({summary['orders']['paid']:,}) / {summary['orders']['revenue']}",
    )
    table.add_row("redemptions", ", ".join(f"{k} {v:,}" for k, v in summary["redemptions"]["by_status"].items()))
    table.add_row("loyalty transactions", f"{summary['loyalty_points']['rows']:,}")
    table.add_row("segment messages", f"{summary['segment']['messages']:,}")
    table.add_row("expected rejections", ", ".join(f"{k} {v}" for k, v in summary["expected_rejections"].items()))
    rate = d["deliveries"] / seconds if seconds else 0
    table.add_row("time", f"{seconds:.1f} s ({rate:,.0f} deliveries/s)")
    Console().print(table)
