"""One in-process `dbt build` against a warehouse file.

dbt costs seconds per invocation, so a build is exactly one `dbtRunner` call (plus `docs generate`
when asked), `target/` is kept for partial parsing, and the DuckDB file is closed afterwards so that
another process (publish, dashboards) can open it straight away.
"""

from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from loyalty.errors import LoyaltyError

# The dbt project ships inside the package, so an installed wheel can build too.
PROJECT_DIR = Path(__file__).resolve().parent / "dbt_project"
DBT_LOG = PROJECT_DIR / "logs" / "dbt.log"
WAREHOUSE_ENV = "LOYALTY_WAREHOUSE"
# dbtRunner and the DuckDB adapter keep process-wide state: one build at a time per process.
_BUILD_LOCK = threading.Lock()
_console = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class NodeResult:
    name: str  # <resource type>.<node name>, e.g. model.fct_orders / test.not_null_fct_orders_order_id
    resource_type: str  # model | test | seed | snapshot | unit_test
    status: str  # success | error | fail | warn | skipped | pass
    seconds: float
    rows: int | None  # rows written when the adapter reports it


@dataclass(frozen=True)
class BuildResult:
    warehouse: Path
    seconds: float
    nodes: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in ("error", "fail", "runtime error")]


def build(warehouse: Path, *, full_refresh: bool = False, docs: bool = False, select: str | None = None) -> BuildResult:
    """Run `dbt build` (models, unit tests and data tests) on `warehouse`; raise LoyaltyError on any failure."""
    warehouse = Path(warehouse).resolve()
    if not warehouse.parent.is_dir():
        raise LoyaltyError(f"warehouse folder does not exist: {warehouse.parent}")
    args = ["build", *_common_args()]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    else:
        # Unit tests check model logic on fixed inputs, not the data: pytest runs them (tests/test_models.py),
        # scheduled builds skip their per-test cost.
        args += ["--exclude-resource-type", "unit_test"]

    started = time.perf_counter()
    with _BUILD_LOCK, _warehouse_env(warehouse):
        try:
            outcome = _invoke(args)
            nodes = _node_results(outcome)
            _raise_on_failure(outcome, nodes)
            if docs:
                docs_outcome = _invoke(["docs", "generate", *_common_args()])
                if not docs_outcome.success:
                    raise LoyaltyError(f"dbt docs generate failed: {_first_line(docs_outcome.exception)}")
        finally:
            _close_connections()
    result = BuildResult(warehouse=warehouse, seconds=time.perf_counter() - started, nodes=nodes)
    tests = sum(1 for n in nodes if n.resource_type == "test")
    models = sum(1 for n in nodes if n.resource_type == "model")
    _console.print(f"  dbt build: {models} models, {tests} tests passed in {result.seconds:.1f} s", soft_wrap=True)
    return result


def _common_args() -> list[str]:
    # --quiet keeps dbt's own console output to errors; progress comes from _print_progress.
    return ["--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR), "--quiet"]


def _invoke(args: list[str]):
    from dbt.cli.main import dbtRunner

    try:
        return dbtRunner(callbacks=[_print_progress]).invoke(args)
    except Exception as exc:  # dbt raises for unusable invocations (bad flags, broken project files)
        raise LoyaltyError(f"dbt could not run: {_first_line(exc)}") from exc


def _print_progress(event) -> None:
    """A line per finished model (and per test that did not pass), so long builds show progress quietly."""
    if event.info.name != "NodeFinished":
        return
    status = event.data.run_result.status
    node = event.data.node_info
    if status in ("skipped", "no-op") or (node.resource_type != "model" and status in ("pass", "success")):
        return
    style = "green" if status in ("success", "pass") else ("yellow" if status in ("warn", "skipped") else "red")
    _console.print(f"  [{style}]{status:>7}[/{style}] {node.resource_type:<9} {node.node_name}", soft_wrap=True)


def _node_results(outcome) -> list[NodeResult]:
    run_results = getattr(outcome.result, "results", None) or []
    nodes = []
    for r in run_results:
        response = r.adapter_response or {}
        rows = response.get("rows_affected") if isinstance(response, dict) else None
        resource_type = getattr(r.node.resource_type, "value", str(r.node.resource_type))
        nodes.append(
            NodeResult(
                name=f"{resource_type}.{r.node.name}",
                resource_type=resource_type,
                status=getattr(r.status, "value", str(r.status)),
                seconds=round(float(r.execution_time or 0.0), 3),
                rows=rows if isinstance(rows, int) and rows >= 0 else None,
            )
        )
    return nodes


def _raise_on_failure(outcome, nodes: list[NodeResult]) -> None:
    failed = [n for n in nodes if n.status in ("error", "fail", "runtime error")]
    if failed:
        names = ", ".join(n.name.split(".", 1)[-1] for n in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        raise LoyaltyError(f"dbt build failed: {len(failed)} node(s) failed: {names}{more} (details in {DBT_LOG})")
    if isinstance(outcome.exception, (KeyboardInterrupt, SystemExit)):
        raise outcome.exception  # a stop requested during the build (loyalty.signals), not a build failure
    if not outcome.success:
        raise LoyaltyError(f"dbt build failed: {_first_line(outcome.exception) or f'see {DBT_LOG}'}")


def _first_line(exc) -> str:
    text = str(exc or "").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:2])[:300]


@contextmanager
def _warehouse_env(warehouse: Path):
    previous = os.environ.get(WAREHOUSE_ENV)
    os.environ[WAREHOUSE_ENV] = str(warehouse)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(WAREHOUSE_ENV, None)
        else:
            os.environ[WAREHOUSE_ENV] = previous


def _close_connections() -> None:
    """dbt-duckdb keeps its database open in a class-level environment; close it so the file is free."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        if env is not None and getattr(env, "conn", None) is not None:
            env.conn.close()
            env.conn = None
        DuckDBConnectionManager.close_all_connections()
