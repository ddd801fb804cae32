{#- The raw layer on engines that read files (Spark): the sources `raw.<table>` as views over the Parquet
    raw layer that ingest writes per batch (ingest/parquet_layer.py), so the staging models read the same
    names on every engine. loyalty/engines/spark.py runs it before each build (`dbt run-operation
    create_raw_sources`); DuckDB has the raw tables in the warehouse file.

    var('raw_parquet'), set by loyalty/engines/spark.py for each build:
      folder:   the Parquet raw layer, <folder>/<table>/batch=<id>/part-0.parquet
      manifest: the manifest snapshot of the warehouse, <manifest>/<ingest_files|ingest_batches>/part-0.parquet
      tables:   {table: {columns: [[name, type], ...], file_column: _file | file_path | none}}
                (file_column none: a manifest table, read from the snapshot as it is)

    A batch row is live when its (file, batch) is the file's current manifest entry: the rows of a file that
    was since replaced, and batches written by a run that was never published, stay in their immutable files
    but are not read, exactly as DuckDB's raw tables no longer hold them. -#}

{% macro create_raw_sources() -%}
    {{ return(adapter.dispatch('create_raw_sources', 'loyalty')()) }}
{%- endmacro %}

{% macro default__create_raw_sources() -%}{%- endmacro %}

{% macro spark__create_raw_sources() -%}
    {%- set layer = var('raw_parquet', none) -%}
    {%- if execute and layer -%}
        {%- do run_query('create database if not exists raw') -%}
        {%- for name, spec in layer.tables.items() if spec.file_column is none -%}
            {%- do _create_parquet_table('raw.' ~ name, spec.columns, layer.manifest ~ '/' ~ name) -%}
        {%- endfor -%}
        {%- for name, spec in layer.tables.items() if spec.file_column is not none -%}
            {%- set columns = [] -%}
            {%- for column in spec.columns -%}{%- do columns.append(adapter.quote(column[0])) -%}{%- endfor -%}
            {%- set batches = 'raw.' ~ name ~ '__batches' -%}
            {%- do _create_parquet_table(batches, spec.columns, layer.folder ~ '/' ~ name) -%}
            {%- do run_query(
                'create or replace view raw.' ~ name ~ ' as select batch_rows.' ~ columns | join(', batch_rows.')
                ~ ' from ' ~ batches ~ ' as batch_rows left semi join raw.ingest_files as manifest'
                ~ ' on batch_rows.' ~ spec.file_column ~ ' = manifest.file_path'
                ~ ' and batch_rows._batch_id = manifest.batch_id') -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}

{#- An external table over a folder of Parquet files (its sub-folders too): dropped and declared again on each
    build, so a moved folder is followed and new files are listed; dropping an external table keeps its files. -#}
{% macro _create_parquet_table(relation, columns, location) -%}
    {%- set column_list = [] -%}
    {%- for column in columns -%}{%- do column_list.append(adapter.quote(column[0]) ~ ' ' ~ column[1]) -%}{%- endfor -%}
    {%- do run_query('drop table if exists ' ~ relation) -%}
    {%- do run_query(
        'create table ' ~ relation ~ ' (' ~ column_list | join(', ') ~ ') using parquet'
        ~ " options (recursiveFileLookup 'true') location '" ~ location | replace("'", "\\'") ~ "'") -%}
{%- endmacro %}
