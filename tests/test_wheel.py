"""The tool as a user installs it: the built wheel, pip-installed (not editable) into a fresh venv.

This is what `pipx install .` does: nothing of the checkout is importable, so every file read at runtime must
be in the wheel, and nothing may be written inside site-packages (often read-only for the user running it).
The venv gets its dependencies from the package index like any user's; that install is most of the time.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("loyalty", "ingest", "dashboards")
TRAIT = "bought_twice"
MIN_ORDERS = 2


@dataclass(frozen=True)
class Installed:
    wheel: Path
    bin: Path
    site_packages: Path

    def env(self) -> dict[str, str]:
        """A user's shell: the venv first on PATH, no settings or paths leaking in from the test run."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOYALTY_", "PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env

    def loyalty(self, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [str(self.bin / "loyalty"), *args], cwd=cwd, env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        assert result.returncode == 0, f"loyalty {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        return result


def source_files() -> list[str]:
    """What a clone holds once the work is committed: tracked files, and new ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert listed.returncode == 0, f"the wheel is built from the files git knows: {listed.stderr}"
    return [name for name in listed.stdout.split("\0") if name and (REPO_ROOT / name).is_file()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"  # built from a copy, so the checkout gets no build/ folder
    for name in source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(root / "dist"), str(source)], check=True, timeout=600)
    (wheel,) = (root / "dist").glob("*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run([str(venv / "bin" / "python"), *pip[1:], "install", str(wheel)], check=True, timeout=1200, cwd=root)
    site_packages = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout.strip()
    return Installed(wheel=wheel, bin=venv / "bin", site_packages=Path(site_packages))


def test_the_wheel_ships_every_file_of_the_packages(installed):
    """Python modules, the dbt project, the dashboards' pages and the `loyalty init` templates alike."""
    with zipfile.ZipFile(installed.wheel) as wheel:
        shipped = set(wheel.namelist())
    source = {name for name in source_files() if name.split("/", 1)[0] in PACKAGES}
    assert source - shipped == set()
    for needed in ("loyalty/dbt_project/dbt_project.yml", "dashboards/views/data_health.py", "loyalty/init.py"):
        assert needed in shipped


def _site_packages_files(site_packages: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(site_packages)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in site_packages.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts  # Python's own bytecode cache may be filled in
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _members_with_trait_in_truth(landing: Path) -> int:
    with (landing / "ground_truth" / "members.csv").open(newline="") as fh:
        return sum(1 for row in csv.DictReader(fh) if int(row["orders_count"]) >= MIN_ORDERS)


def test_installed_tool_builds_a_user_project_with_its_own_trait_and_serves_it(installed, tmp_path):
    before = _site_packages_files(installed.site_packages)

    # `loyalty init`, then a trait and a model of the user's own, without touching the installed package.
    installed.loyalty("init", "shop", cwd=tmp_path)
    project = tmp_path / "shop"
    config = project / "dbt_project.yml"
    config.write_text(
        config.read_text().replace(
            "extra_member_traits: []",
            f"extra_member_traits:\n    - name: {TRAIT}\n      description: At least {MIN_ORDERS} paid orders.\n"
            f"      sql: orders_count >= {MIN_ORDERS}",
        )
    )
    (project / "models" / "members_bought_twice.sql").write_text(
        f"select customer_source_id from {{{{ ref('dim_members') }}}} where {TRAIT}\n"
    )

    # generate → run (ingest, build of the user's project with the package linked in, publish) → a query.
    installed.loyalty("generate", "--out", "data/landing", "--customers", "60", "--days", "30", cwd=project)
    installed.loyalty("run", cwd=project)
    warehouse = project / "data" / "warehouse.duckdb"
    with duckdb.connect(str(warehouse), read_only=True) as con:
        having, shipped_trait = con.execute(
            f"select count(*) filter (where {TRAIT}), count(visited_3_plus_locations) from marts.dim_members"
        ).fetchone()
        own_model = con.execute("select count(*) from marts.members_bought_twice").fetchone()[0]
    expected = _members_with_trait_in_truth(project / "data" / "landing")
    assert having == own_model == expected > 0
    assert shipped_trait > 0  # the shipped traits are still there

    # The shipped project alone, from site-packages: `loyalty ingest` + `loyalty build` outside any project.
    plain = tmp_path / "plain"
    plain.mkdir()
    installed.loyalty("ingest", "--landing", str(project / "data" / "landing"), "--warehouse", "w.duckdb", cwd=plain)
    installed.loyalty("build", "--warehouse", "w.duckdb", cwd=plain)
    with duckdb.connect(str(plain / "w.duckdb"), read_only=True) as con:
        columns = {
            c
            for (c,) in con.execute(
                "select column_name from information_schema.columns where "
                "table_schema = 'marts' and table_name = 'dim_members'"
            ).fetchall()
        }
    assert "visited_3_plus_locations" in columns and TRAIT not in columns

    # Every page of the installed dashboards renders on the user's warehouse.
    script = tmp_path / "render_pages.py"
    script.write_text(
        "import sys\nfrom pathlib import Path\nimport dashboards\nfrom streamlit.testing.v1 import AppTest\n"
        "app = Path(dashboards.__file__).parent / 'app.py'\n"
        "for page in sorted(p.name for p in (app.parent / 'views').glob('*.py')):\n"
        "    at = AppTest.from_file(str(app), default_timeout=120)\n"
        "    at.run()\n"
        "    at.switch_page(f'views/{page}')\n"
        "    at.run()\n"
        "    assert not at.exception, (page, [e.value for e in at.exception])\n"
        "    print(page)\n"
    )
    rendered = subprocess.run(
        [str(installed.bin / "python"), str(script)],
        cwd=tmp_path,
        env={**installed.env(), "LOYALTY_WAREHOUSE": str(warehouse)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert rendered.returncode == 0, rendered.stderr
    # The wheel ships every page of the source tree, and each one rendered.
    source_pages = sorted(p.name for p in (REPO_ROOT / "dashboards" / "views").glob("*.py"))
    assert rendered.stdout.split() == source_pages, rendered.stdout

    # `loyalty demo` in the project (its landing has data: no generation) runs again, then serves over HTTP.
    port = free_port()
    log = tmp_path / "demo.log"
    with log.open("w") as out:
        demo = subprocess.Popen(
            [str(installed.bin / "loyalty"), "demo", "--port", str(port)],
            cwd=project,
            env=installed.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 300
        while True:
            assert demo.poll() is None, f"`loyalty demo` exited with {demo.returncode}:\n{log.read_text()}"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"`loyalty demo` did not answer within 300 s:\n{log.read_text()}"
            time.sleep(0.5)
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code == 200 and "<html" in page.text.lower()
    finally:
        os.killpg(demo.pid, 15)
        demo.wait(timeout=30)

    # dbt's state went beside the warehouse; nothing was written into the installed packages.
    assert (project / "data" / "dbt" / "target" / "manifest.json").is_file()
    assert (plain / "dbt" / "logs" / "dbt.log").is_file()
    assert _site_packages_files(installed.site_packages) == before
