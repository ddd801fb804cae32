"""`adapter.dispatch(name, namespace)`: the `default__<name>` macro of our macros folder, as dbt picks it on DuckDB."""

from jinja2 import pass_context


@pass_context
def dispatch(context, macro_name: str, macro_namespace: str | None = None):
    return context[f"default__{macro_name}"]


def quote(identifier: str) -> str:
    return f'"{identifier}"'
