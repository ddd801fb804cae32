"""The `loyalty` command. Each command resolves its settings and hands off to the module that owns the work.

Failures print one line (`error: <reason>`) and exit non-zero; set LOYALTY_DEBUG=1 for a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from loyalty.errors import EXIT_REJECTED, USER_ERRORS, LoyaltyError
from loyalty.settings import load_settings
from loyalty.signals import Stopped, stop_on_sigterm_and_sigint

app = typer.Typer(
    help="Loyalty analytics warehouse: Voucherify + Segment → DuckDB → dbt marts → dashboards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
pull_app = typer.Typer(help="Fetch data from a vendor API into the landing folder.", no_args_is_help=True)
app.add_typer(pull_app, name="pull")
push_app = typer.Typer(help="Send warehouse results back to a vendor API.", no_args_is_help=True)
app.add_typer(push_app, name="push")

LandingOpt = Annotated[
    Path | None, typer.Option("--landing", help="Landing folder (env LOYALTY_LANDING, default data/landing)")
]
WarehouseOpt = Annotated[
    Path | None,
    typer.Option("--warehouse", help="DuckDB warehouse file (env LOYALTY_WAREHOUSE, default data/warehouse.duckdb)"),
]
EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine", help="Build engine: duckdb (in the warehouse file) or spark (env LOYALTY_ENGINE, default duckdb)"
    ),
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
    from loyalty.engines.spark import raw_parquet_for_ingest

    warehouse_path = settings.path("warehouse", warehouse)
    report = load_landing(
        settings.path("landing", landing), warehouse_path, raw_parquet=raw_parquet_for_ingest(settings, warehouse_path)
    )
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
    engine: EngineOpt = None,
    dbt_project: DbtProjectOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Run one `dbt build` (models and tests) against the warehouse file in place, or on Spark from its raw layer."""
    settings = load_settings(config)
    if _engine(settings, engine) == "spark":
        from loyalty.engines import spark

        if docs:
            raise LoyaltyError(
                "--docs is built from the DuckDB engine: run `loyalty build --docs` without --engine spark"
            )
        spark.build(
            settings.path("warehouse", warehouse),
            spark.SparkConfig.from_settings(settings),
            project_dir=settings.path("dbt_project", dbt_project),
            full_refresh=full_refresh,
        )
        return
    from loyalty.build import build as dbt_build
    from loyalty.engines.duckdb import apply_build_limits

    apply_build_limits(settings)
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
    push: Annotated[
        bool,
        typer.Option("--push", help="After a successful publish, `loyalty push voucherify` (never after a failure)"),
    ] = False,
    engine: EngineOpt = None,
    dbt_project: DbtProjectOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Scheduled job: lock, ingest, build, then publish the new warehouse atomically for readers."""
    settings = load_settings(config)
    from loyalty.engines.duckdb import apply_build_limits
    from loyalty.run import run as scheduled_run

    apply_build_limits(settings)
    spark_config = None
    if _engine(settings, engine) == "spark":
        from loyalty.engines.spark import SparkConfig, require_spark

        spark_config = SparkConfig.from_settings(settings)
        require_spark(spark_config)  # before the run takes its lock and copies the warehouse
    scheduled_run(
        settings.path("landing", landing),
        settings.path("warehouse", warehouse),
        dbt_project=settings.path("dbt_project", dbt_project),
        full_refresh=full_refresh,
        as_json=as_json,
        spark=spark_config,
    )
    if push:  # reached only when the run published: a failed run raised above
        try:
            _push_voucherify(settings, settings.path("warehouse", warehouse))
        except USER_ERRORS as exc:
            raise LoyaltyError(f"the run succeeded and was published; the push failed: {exc}", exc.exit_code) from exc


@app.command()
def export(
    out: Annotated[Path, typer.Option("--out", help="Folder to write <mart>.parquet files into")],
    warehouse: WarehouseOpt = None,
    engine: EngineOpt = None,
    dbt_project: DbtProjectOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Write every mart as OUT/<mart>.parquet (for BI tools), from the DuckDB warehouse or from its Spark build."""
    settings = load_settings(config)
    warehouse_path = settings.path("warehouse", warehouse)
    if _engine(settings, engine) == "spark":
        from loyalty.engines import spark

        marts = spark.export_marts(
            warehouse_path,
            out,
            spark.SparkConfig.from_settings(settings),
            project_dir=settings.path("dbt_project", dbt_project),
        )
    else:
        from loyalty.engines.duckdb import export_marts

        marts = export_marts(warehouse_path, out)
    typer.echo(f"exported {len(marts)} marts to {out}: {', '.join(marts)}")


def _engine(settings, flag_value: str | None) -> str:
    from loyalty.engines import ENGINES

    engine = str(settings.get("engine", flag_value))
    if engine not in ENGINES:
        raise LoyaltyError(f"--engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    return engine


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
    from loyalty.engines.duckdb import apply_build_limits
    from loyalty.serve import demo as run_demo

    apply_build_limits(settings)
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
    from ingest.voucherify.pull import parse_since, pull

    pull(
        settings.path("landing", landing),
        app_id=settings.get("voucherify_app_id"),
        app_token=settings.get("voucherify_app_token"),
        base_url=settings.get("voucherify_base_url", base_url),
        exports=_listed(settings.get("voucherify_exports")),
        since=parse_since(settings.get("voucherify_pull_since")),
        loyalty_campaigns=_listed(settings.get("voucherify_loyalty_campaigns")),
    )


def _listed(value) -> list[str]:
    """A list setting: a TOML list, or text with comma-separated items."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


class PushScope(StrEnum):
    traits = "traits"
    rewards = "rewards"


@push_app.command("voucherify")
def push_voucherify(
    warehouse: WarehouseOpt = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="API base URL (env LOYALTY_VOUCHERIFY_BASE_URL)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print what would be sent; send nothing")] = False,
    only: Annotated[PushScope | None, typer.Option("--only", help="Push only computed traits or only rewards")] = None,
    config: ConfigOpt = None,
) -> None:
    """Send changed computed traits (customer metadata) and newly triggered rewards (publications) to Voucherify."""
    settings = load_settings(config)
    _push_voucherify(
        settings,
        settings.path("warehouse", warehouse),
        base_url=base_url,
        dry_run=dry_run,
        scope=only.value if only else "all",
    )


def _push_voucherify(settings, warehouse: Path, *, base_url: str | None = None, dry_run=False, scope="all") -> None:
    from loyalty.push import push

    push(
        warehouse,
        base_url=settings.get("voucherify_base_url", base_url),
        app_id=settings.get("voucherify_app_id"),
        app_token=settings.get("voucherify_app_token"),
        metadata_prefix=settings.get("voucherify_metadata_prefix"),
        dry_run=dry_run,
        scope=scope,
    )


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

    with contextlib.suppress(Stopped):  # uvicorn has shut down gracefully: a requested stop, not a failure
        serve_receiver(
            settings.path("landing", landing),
            secret=settings.get("webhook_secret") or "",
            host=host,
            port=port,
            max_body_bytes=int(settings.get("receiver_max_body_bytes")),
            rotate_bytes=int(settings.get("receiver_rotate_bytes")),
            rotate_seconds=float(settings.get("receiver_rotate_seconds")),
        )


def main() -> None:
    stop_on_sigterm_and_sigint()
    # Standalone mode lets Click report usage errors (exit 2); everything else becomes one line.
    try:
        app()
    except USER_ERRORS as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except Stopped as stop:  # SIGTERM or SIGINT (see loyalty.signals)
        typer.echo(f"error: {stop}", err=True)
        sys.exit(stop.code)
    except Exception as exc:
        if os.environ.get("LOYALTY_DEBUG"):
            raise
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
