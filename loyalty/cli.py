"""The `loyalty` command. Each command resolves its settings and hands off to the module that owns the work.

Failures print one line (`error: <reason>`) and exit non-zero; set LOYALTY_DEBUG=1 for a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from loyalty.errors import EXIT_REJECTED, USER_ERRORS, LoyaltyError
from loyalty.settings import load_settings

app = typer.Typer(
    help="Loyalty analytics warehouse: Voucherify + Segment → DuckDB → dbt marts → dashboards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
pull_app = typer.Typer(help="Fetch data from a vendor API into the landing folder.", no_args_is_help=True)
app.add_typer(pull_app, name="pull")

LandingOpt = Annotated[
    Path | None, typer.Option("--landing", help="Landing folder (env LOYALTY_LANDING, default data/landing)")
]
WarehouseOpt = Annotated[
    Path | None,
    typer.Option("--warehouse", help="DuckDB warehouse file (env LOYALTY_WAREHOUSE, default data/warehouse.duckdb)"),
]
DbtProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--dbt-project",
        help="Your own dbt project, made by `loyalty init` (env LOYALTY_DBT_PROJECT, default: the shipped one)",
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Settings file (env LOYALTY_CONFIG, default ./loyalty.toml)")
]


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the landing files and ground truth into")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers (members and non-members)")] = 300,
    days: Annotated[int, typer.Option(min=1, help="Days of activity")] = 60,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed writes the same files")] = 42,
    end_date: Annotated[
        str | None,
        typer.Option(
            "--end-date", help="Last day of activity is the day before this UTC date (YYYY-MM-DD; default today)"
        ),
    ] = None,
) -> None:
    """Generate a synthetic loyalty program in every real source format, plus its ground truth."""
    import time
    from datetime import date

    from loyalty.generate import generate_world, print_summary

    try:
        end = date.fromisoformat(end_date) if end_date else None
    except ValueError:
        raise LoyaltyError(f"--end-date must be YYYY-MM-DD, got {end_date!r}") from None
    started = time.perf_counter()
    summary = generate_world(out=out, customers=customers, days=days, seed=seed, end_date=end, show_progress=True)
    print_summary(summary, out, time.perf_counter() - started)


@app.command()
def ingest(
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 3 when any record was rejected")] = False,
    config: ConfigOpt = None,
) -> None:
    """Load new and changed landing files into the raw schema (idempotent; bad records quarantined)."""
    settings = load_settings(config)
    from ingest import load_landing

    report = load_landing(settings.path("landing", landing), settings.path("warehouse", warehouse))
    if strict and report.rejected_total:
        raise LoyaltyError(f"{report.rejected_total} record(s) rejected (see raw.rejected_records)", EXIT_REJECTED)


@app.command()
def build(
    warehouse: WarehouseOpt = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch")
    ] = False,
    docs: Annotated[
        bool, typer.Option("--docs", help="Also generate dbt docs (into dbt/target/ beside the warehouse)")
    ] = False,
    dbt_project: DbtProjectOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run one `dbt build` (models and tests) against the warehouse file in place."""
    settings = load_settings(config)
    from loyalty.build import build as dbt_build

    dbt_build(
        settings.path("warehouse", warehouse),
        project_dir=settings.path("dbt_project", dbt_project),
        full_refresh=full_refresh,
        docs=docs,
    )


@app.command()
def run(
    landing: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run record as one JSON line on stdout")] = False,
    dbt_project: DbtProjectOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Scheduled job: lock, ingest, build, then publish the new warehouse atomically for readers."""
    settings = load_settings(config)
    from loyalty.run import run as scheduled_run

    scheduled_run(
        settings.path("landing", landing),
        settings.path("warehouse", warehouse),
        dbt_project=settings.path("dbt_project", dbt_project),
        full_refresh=full_refresh,
        as_json=as_json,
    )


@app.command()
def serve(
    warehouse: WarehouseOpt = None,
    port: Annotated[int | None, typer.Option("--port", help="HTTP port (env LOYALTY_PORT, default 8501)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the dashboards on localhost, reading the published warehouse read-only."""
    settings = load_settings(config)
    from loyalty.serve import serve as serve_dashboards

    serve_dashboards(settings.path("warehouse", warehouse), int(settings.get("port", port)))


@app.command()
def demo(
    port: Annotated[int | None, typer.Option("--port", help="HTTP port (env LOYALTY_PORT, default 8501)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Generate sample data if missing, run the pipeline, and serve the dashboards."""
    settings = load_settings(config)
    from loyalty.serve import demo as run_demo

    run_demo(
        settings.path("landing"),
        settings.path("warehouse"),
        int(settings.get("port", port)),
        dbt_project=settings.path("dbt_project"),
    )


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder for the project (created if missing)")],
) -> None:
    """Create a dbt project of your own that uses the shipped models as a package: your traits, vars and
    models live there and survive upgrades."""
    from loyalty.init import init as scaffold

    written = scaffold(directory)
    typer.echo(f"Created a loyalty dbt project in {directory}:")
    for path in written:
        typer.echo(f"  {path.relative_to(directory)}")
    typer.echo(
        f"Next: cd {directory}, add traits or vars to dbt_project.yml and models to models/, then\n"
        "  loyalty generate --out data/landing   # sample data, or land your own files there\n"
        "  loyalty run                           # ingest and build this project, then publish\n"
        "  loyalty serve                         # the dashboards"
    )


@app.command()
def status(
    warehouse: WarehouseOpt = None,
    stale_after_hours: Annotated[
        float | None,
        typer.Option(
            "--stale-after-hours", help="Exit 5 when a source is older (env LOYALTY_STALE_AFTER_HOURS, default 26)"
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON")] = False,
    config: ConfigOpt = None,
) -> None:
    """Show freshness per source, recent runs and rejected records; exit 5 when data is stale."""
    settings = load_settings(config)
    from loyalty.status import status as show_status

    exit_code = show_status(
        settings.path("warehouse", warehouse),
        float(settings.get("stale_after_hours", stale_after_hours)),
        as_json=as_json,
    )
    raise typer.Exit(exit_code)


@pull_app.command("voucherify")
def pull_voucherify(
    landing: LandingOpt = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="API base URL (env LOYALTY_VOUCHERIFY_BASE_URL)")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Pull exports, redemptions and loyalty transactions from the Voucherify API into the landing folder."""
    settings = load_settings(config)
    from ingest.voucherify.pull import pull

    pull(settings, landing=settings.path("landing", landing), base_url=settings.get("voucherify_base_url", base_url))


@app.command()
def receive(
    landing: LandingOpt = None,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port")] = 8700,
    config: ConfigOpt = None,
) -> None:
    """Receive signed Voucherify webhooks and append them durably to the landing folder."""
    settings = load_settings(config)
    from ingest.voucherify.receiver import serve as serve_receiver

    serve_receiver(settings, landing=settings.path("landing", landing), host=host, port=port)


def main() -> None:
    # Standalone mode lets Click report usage errors (exit 2); everything else becomes one line.
    try:
        app()
    except USER_ERRORS as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("error: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("LOYALTY_DEBUG"):
            raise
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
