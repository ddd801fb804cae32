"""The `dbt.*` cross-database macros the models call, as dbt-duckdb 1.11 renders them."""


def type_bigint() -> str:
    return "bigint"


def safe_cast(field: str, type: str) -> str:
    return f"cast({field} as {type})"


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart: str, interval: object, from_date_or_timestamp: str) -> str:
    return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {datepart.lower()})"
