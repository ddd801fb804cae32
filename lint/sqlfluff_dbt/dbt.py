"""The `dbt.*` cross-database macros the models call, as dbt-duckdb 1.11 renders them."""


def type_bigint() -> str:
    return "bigint"


def safe_cast(field: str, type: str) -> str:
    return f"cast({field} as {type})"


def date_trunc(datepart: str, date: str) -> str:
    return f"date_trunc('{datepart}', {date})"


def dateadd(datepart: str, interval: object, from_date_or_timestamp: str) -> str:
    return f"({from_date_or_timestamp} + cast({interval} as bigint) * interval 1 {datepart.lower()})"


def type_string() -> str:
    return "varchar"


def datediff(first_date: str, second_date: str, datepart: str) -> str:
    # dbt-duckdb's spelling for every datepart but week, which the models do not use.
    return f"(date_diff('{datepart}', ({first_date})::timestamp, ({second_date})::timestamp))"


def generate_series(upper_bound: object) -> str:
    return f"select generate_series as generated_number from generate_series(1, {upper_bound})"
