"""Build engines: DuckDB (the default, in the warehouse file) and Apache Spark (loyalty/engines/spark.py), the same
dbt project on both. Whichever engine builds, the dashboards read the marts from the DuckDB warehouse file."""

DUCKDB = "duckdb"
SPARK = "spark"
ENGINES = (DUCKDB, SPARK)
