{#- Every mart (each model built into the `marts` schema: the shipped ones and a `loyalty init` project's own)
    written from the Spark build as Parquet files to <folder>/<mart>/: `dbt run-operation export_marts --args
    '{folder: ...}'`. loyalty/engines/spark.py runs it and turns each folder into one <mart>.parquet (`loyalty
    export`) or loads it into the DuckDB warehouse's `marts` schema for the dashboards (`loyalty run --engine
    spark`). The Spark-only bucket column of key-bucketed marts (macros/cross_db/incremental.sql) is left out.
    DuckDB's marts are copied straight out of the warehouse file (loyalty/engines/duckdb.py). -#}

{% macro export_marts(folder) -%}
    {%- if target.type != 'spark' -%}
        {{ exceptions.raise_compiler_error('export_marts writes a Spark build\'s marts; DuckDB\'s are exported by `loyalty export`') }}
    {%- endif -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
              if node.resource_type == 'model' and node.schema == 'marts' and node.config.enabled
                 and node.config.materialized != 'ephemeral' -%}
            {%- set mart = adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias) -%}
            {%- if mart is none -%}
                {{ exceptions.raise_compiler_error('mart ' ~ node.alias ~ ' has not been built on ' ~ target.type) }}
            {%- endif -%}
            {%- set columns = [] -%}
            {%- for column in adapter.get_columns_in_relation(mart) if column.name != '_spark_bucket' -%}
                {%- do columns.append(adapter.quote(column.name)) -%}
            {%- endfor -%}
            {%- do run_query(
                "insert overwrite directory '" ~ (folder ~ '/' ~ node.alias) | replace("'", "\\'")
                ~ "' using parquet select " ~ columns | join(', ') ~ " from " ~ mart) -%}
            {{ log('exported ' ~ node.alias, info=true) }}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
