"""One in-process `dbt build` against a warehouse file.

dbt costs seconds per invocation, so a build is exactly one `dbtRunner` call (plus `docs generate`
when asked), and the DuckDB file is closed afterwards so that another process (publish, dashboards) can
open it straight away.

The project is the one shipped inside the package, or a user's own (`loyalty init`) that uses it as a
local dbt package. dbt's target/ and logs/ go beside the warehouse (`state_dir_for`), never into the
project: an installed package is read-only, and partial parsing carries over from one build to the next.

The Spark engine (loyalty/engines/spark.py) invokes dbt through the same public helpers: the lock, the
environment, the package link, the invocation, its node results and failure, and the console.
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
PACKAGE_NAME = "loyalty"  # its `name:` in dbt_project.yml, and the folder under a user project's dbt_packages/
WAREHOUSE_ENV = "LOYALTY_WAREHOUSE"
PACKAGE_ENV = "LOYALTY_DBT_PACKAGE"  # a user project's packages.yml reads the shipped project's path from it
# Node statuses that fail a build (dbt's RunStatus / TestStatus values).
FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
# dbtRunner and the DuckDB adapter keep process-wide state: one build at a time per process.
BUILD_LOCK = threading.Lock()
console = Console(stderr=True, highlight=False, soft_wrap=True)


def state_dir_for(warehouse: Path) -> Path:
    """dbt's target/ and logs/ for builds of `warehouse`: one folder per warehouse folder, so a scheduled run
    (which builds `<warehouse>.next` beside it) reuses the previous run's partial parse."""
    return Path(warehouse).resolve().parent / "dbt"


@dataclass(frozen=True)
class NodeResult:
    name: str  # <resource type>.<node name>, e.g. model.fct_orders / test.not_null_fct_orders_order_id
    unique_id: str  # dbt's id, with the package: model.loyalty.fct_orders
    resource_type: str  # model | test | seed | snapshot | unit_test
    status: str  # success | error | fail | warn | skipped | pass
    seconds: float
    rows: int | None  # rows written when the adapter reports it
    message: str  # dbt's message: the error, or how many rows a test found


@dataclass(frozen=True)
class BuildResult:
    warehouse: Path
    seconds: float
    nodes: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> list[NodeResult]:
        return [n for n in self.nodes if n.status in FAILED_STATUSES]


class BuildFailed(LoyaltyError):
    """The build ran but did not succeed; `result` holds every node dbt reported (none if it stopped early)."""

    def __init__(self, message: str, result: BuildResult):
        super().__init__(message)
        self.result = result


def build(
    warehouse: Path,
    *,
    project_dir: Path | None = None,
    full_refresh: bool = False,
    docs: bool = False,
    select: str | None = None,
) -> BuildResult:
    """Run `dbt build` (models, unit tests and data tests) of `project_dir` (default: the shipped project) on
    `warehouse`; raise BuildFailed (a LoyaltyError) on any failure."""
    warehouse = Path(warehouse).resolve()
    if not warehouse.parent.is_dir():
        raise LoyaltyError(f"warehouse folder does not exist: {warehouse.parent}")
    project_dir = Path(project_dir).expanduser().resolve() if project_dir else PROJECT_DIR
    if not (project_dir / "dbt_project.yml").is_file():
        raise LoyaltyError(f"no dbt_project.yml in {project_dir}: create a project with `loyalty init {project_dir}`")
    state = state_dir_for(warehouse)
    common = _common_args(project_dir, state)
    args = ["build", *common]
    if full_refresh:
        args.append("--full-refresh")
    if select:
        args += ["--select", select]
    else:
        # Unit tests check model logic on fixed inputs, not the data: pytest runs them (tests/test_models.py),
        # scheduled builds skip their per-test cost.
        args += ["--exclude-resource-type", "unit_test"]

    started = time.perf_counter()
    nodes: list[NodeResult] = []
    with BUILD_LOCK, dbt_environment({WAREHOUSE_ENV: str(warehouse), PACKAGE_ENV: str(PROJECT_DIR)}):
        try:
            install_package(project_dir, state)
            outcome = invoke_dbt(args)
            nodes = node_results(outcome)
            raise_on_failure(outcome, nodes, state)
            if docs:
                docs_outcome = invoke_dbt(["docs", "generate", *common])
                if not docs_outcome.success:
                    raise LoyaltyError(f"dbt docs generate failed: {first_line(docs_outcome.exception)}")
        except LoyaltyError as exc:
            result = BuildResult(warehouse=warehouse, seconds=time.perf_counter() - started, nodes=nodes)
            raise BuildFailed(str(exc), result) from exc
        finally:
            close_connections()
    result = BuildResult(warehouse=warehouse, seconds=time.perf_counter() - started, nodes=nodes)
    tests = sum(1 for n in nodes if n.resource_type == "test")
    models = sum(1 for n in nodes if n.resource_type == "model")
    console.print(f"  dbt build: {models} models, {tests} tests passed in {result.seconds:.1f} s", soft_wrap=True)
    return result


def _common_args(project_dir: Path, state: Path) -> list[str]:
    # --quiet keeps dbt's own console output to errors; progress comes from _print_progress.
    return [
        "--project-dir",
        str(project_dir),
        "--profiles-dir",
        str(project_dir),
        "--target-path",
        str(state / "target"),
        "--log-path",
        str(state / "logs"),
        "--quiet",
    ]


def install_package(project_dir: Path, state: Path) -> None:
    """A user project (`loyalty init`) uses the shipped project as a local dbt package: `dbt deps` links it
    into dbt_packages/ when it is not linked yet, or was linked from another install (an upgrade, a new venv)."""
    if project_dir == PROJECT_DIR or not (project_dir / "packages.yml").is_file():
        return
    linked = project_dir / "dbt_packages" / PACKAGE_NAME
    if linked.is_symlink() and linked.resolve() == PROJECT_DIR:
        return
    outcome = invoke_dbt(["deps", "--project-dir", str(project_dir), "--log-path", str(state / "logs"), "--quiet"])
    if not outcome.success:
        raise LoyaltyError(f"dbt deps failed in {project_dir}: {first_line(outcome.exception)}")


def invoke_dbt(args: list[str]):
    from dbt.cli.main import dbtRunner

    try:
        return dbtRunner(callbacks=[_print_progress]).invoke(args)
    except Exception as exc:  # dbt raises for unusable invocations (bad flags, broken project files)
        raise LoyaltyError(f"dbt could not run: {first_line(exc)}") from exc


def _print_progress(event) -> None:
    """A line per finished model (and per test that did not pass), so long builds show progress quietly."""
    if event.info.name != "NodeFinished":
        return
    status = event.data.run_result.status
    node = event.data.node_info
    if status in ("skipped", "no-op") or (node.resource_type != "model" and status in ("pass", "success")):
        return
    style = "green" if status in ("success", "pass") else ("yellow" if status in ("warn", "skipped") else "red")
    console.print(f"  [{style}]{status:>7}[/{style}] {node.resource_type:<9} {node.node_name}", soft_wrap=True)


def node_results(outcome) -> list[NodeResult]:
    run_results = getattr(outcome.result, "results", None) or []
    nodes = []
    for r in run_results:
        response = r.adapter_response or {}
        rows = response.get("rows_affected") if isinstance(response, dict) else None
        resource_type = getattr(r.node.resource_type, "value", str(r.node.resource_type))
        nodes.append(
            NodeResult(
                name=f"{resource_type}.{r.node.name}",
                unique_id=r.node.unique_id,
                resource_type=resource_type,
                status=getattr(r.status, "value", str(r.status)),
                seconds=round(float(r.execution_time or 0.0), 3),
                rows=rows if isinstance(rows, int) and rows >= 0 else None,
                message=str(r.message or ""),
            )
        )
    return nodes


def raise_on_failure(outcome, nodes: list[NodeResult], state: Path) -> None:
    log = state / "logs" / "dbt.log"
    failed = [n for n in nodes if n.status in FAILED_STATUSES]
    if failed:
        names = ", ".join(n.name.split(".", 1)[-1] for n in failed[:5])
        more = f" and {len(failed) - 5} more" if len(failed) > 5 else ""
        raise LoyaltyError(f"dbt build failed: {len(failed)} node(s) failed: {names}{more} (details in {log})")
    if isinstance(outcome.exception, (KeyboardInterrupt, SystemExit)):
        raise outcome.exception  # a stop requested during the build (loyalty.signals), not a build failure
    if not outcome.success:
        raise LoyaltyError(f"dbt build failed: {first_line(outcome.exception) or f'see {log}'}")


def first_line(exc) -> str:
    text = str(exc or "").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:2])[:300]


@contextmanager
def dbt_environment(values: dict[str, str]):
    """Environment variables dbt's profiles.yml and packages.yml read, restored afterwards."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def close_connections() -> None:
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
