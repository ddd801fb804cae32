"""What sqlfluff's jinja templater needs to render the dbt models like dbt-duckdb does, for linting only.

sqlfluff provides ref, source, config, this and is_incremental (`apply_dbt_builtins`) and loads our macros.
The names defined here join the template context and win over those builtins: `var` answers from the
project's own dbt_project.yml (sqlfluff's returns a placeholder string, which breaks the computed traits),
`execute` is false as in dbt's parse, `modules` holds re and datetime as in dbt; the modules `dbt` and
`adapter` are the dbt objects our macros call.
The dbt templater would render exactly, but needs a dbt parse and a database for every lint.
"""

import datetime
import re
from pathlib import Path
from types import SimpleNamespace

import yaml

_PROJECT = Path(__file__).resolve().parents[2] / "loyalty" / "dbt_project" / "dbt_project.yml"
_VARS = yaml.safe_load(_PROJECT.read_text(encoding="utf-8"))["vars"]

execute = False
# dbt's `modules` context: the Python modules macros may call.
modules = SimpleNamespace(re=re, datetime=datetime)


def var(name, default=None):
    return _VARS.get(name, default)
