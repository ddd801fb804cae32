"""`loyalty init DIR`: a dbt project of your own that uses the shipped one as a package, Fivetran-style.

The shipped models stay inside the installed tool and are configured with vars; the user's traits, vars and
extra models live in DIR and survive upgrades. DIR gets dbt_project.yml, packages.yml (the shipped project as a
local-path package), profiles.yml (the shipped one), a generate_schema_name macro, loyalty.toml (pointing the
CLI at DIR) and .gitignore; never overwrites a file.
"""

from __future__ import annotations

import re
from pathlib import Path
from string import Template

from loyalty.build import PACKAGE_NAME, PROJECT_DIR
from loyalty.errors import LoyaltyError

TEMPLATE_DIR = Path(__file__).resolve().parent / "project_template"
# file written -> its template (package data has no dot files, hence `gitignore`)
FILES = {
    "dbt_project.yml": TEMPLATE_DIR / "dbt_project.yml",
    "packages.yml": TEMPLATE_DIR / "packages.yml",
    "profiles.yml": PROJECT_DIR / "profiles.yml",
    "loyalty.toml": TEMPLATE_DIR / "loyalty.toml",
    "macros/generate_schema_name.sql": TEMPLATE_DIR / "macros" / "generate_schema_name.sql",
    ".gitignore": TEMPLATE_DIR / "gitignore",
}
EMPTY_FOLDERS = ("models", "tests")


def project_name(directory: Path) -> str:
    """dbt needs an identifier, and one that is not the package's own name."""
    name = re.sub(r"[^0-9a-z_]+", "_", directory.resolve().name.lower()).strip("_")
    if not name or name[0].isdigit():
        name = f"loyalty_{name}".rstrip("_")
    return "my_loyalty" if name == PACKAGE_NAME else name


def init(directory: Path) -> list[Path]:
    """Write the project files into `directory` (created if missing); return them."""
    directory = Path(directory).expanduser()
    existing = [name for name in FILES if (directory / name).exists()]
    if existing:
        raise LoyaltyError(f"{directory} already has {', '.join(existing)}: loyalty init never overwrites a file")
    values = {"name": project_name(directory), "package_path": PROJECT_DIR.as_posix()}
    written = []
    for name, template in FILES.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        text = template.read_text(encoding="utf-8")
        if template.is_relative_to(TEMPLATE_DIR):  # profiles.yml is the shipped one, as it is
            text = Template(text).substitute(values)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    for folder in EMPTY_FOLDERS:
        (directory / folder).mkdir(exist_ok=True)
    return written
