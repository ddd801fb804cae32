{#- Incremental models that recompute the keys new data touched (macros/incremental.sql decides which).

    DuckDB merges the recomputed rows into the table by unique_key (or delete+insert), and deletes rows with a
    post-hook where a model drops a key. Spark's Parquet tables can do neither: they can only append, or overwrite
    whole partitions. So on Spark such a model's table is partitioned by a bucket of its key (`_spark_bucket`,
    xxhash64 of the key modulo `key_buckets()`), and an incremental run overwrites exactly the buckets its touched
    keys fall in, each whole: the recomputed rows, plus the rows of the bucket's other keys read back from the table
    itself (dynamic partition overwrite may read the table it overwrites). A key touched but no longer produced is
    thereby gone, as after a full refresh. Where Delta is available (Databricks), `merge` on unique_key does the
    same (docs/scale.md).

    In a model (DuckDB gets exactly its old configuration and SQL):
        config(materialized='incremental', unique_key='order_id',
               incremental_strategy=recompute_strategy(), partition_by=key_bucket_partition(), ...)
        ...
        {{ recomputed_rows('final', 'order_id', touched='orders') }}      -- instead of `select * from final`

    Changing a bucketed model's columns needs a full refresh on Spark (`loyalty build --full-refresh`): the rows
    kept from the table have the table's columns. The bucket column is left out of exported marts. -#}

{#- How many buckets a key-bucketed table has on Spark; changing it needs a full refresh. -#}
{% macro key_buckets() -%}64{%- endmacro %}

{% macro key_bucket(key) -%}cast(pmod(xxhash64({{ key }}), {{ key_buckets() }}) as int){%- endmacro %}

{#- The incremental strategy of a model that recomputes touched keys: DuckDB's own (its default merge by
    unique_key, or the one given), Spark's bucket overwrite. -#}
{% macro recompute_strategy(duckdb_strategy=none) -%}
    {{ return(adapter.dispatch('recompute_strategy', 'loyalty')(duckdb_strategy)) }}
{%- endmacro %}

{% macro default__recompute_strategy(duckdb_strategy=none) -%}{{ return(duckdb_strategy) }}{%- endmacro %}

{% macro spark__recompute_strategy(duckdb_strategy=none) -%}{{ return('insert_overwrite') }}{%- endmacro %}

{% macro key_bucket_partition() -%}
    {{ return(adapter.dispatch('key_bucket_partition', 'loyalty')()) }}
{%- endmacro %}

{% macro default__key_bucket_partition() -%}{{ return(none) }}{%- endmacro %}

{% macro spark__key_bucket_partition() -%}{{ return(['_spark_bucket']) }}{%- endmacro %}

{#- The rows a recompute model writes: `select * from <relation>` on DuckDB. On Spark each row gets its key's bucket
    and, in an incremental run, the other rows of every touched bucket are kept. `touched` names the relation (a CTE)
    holding the key of every recomputed key, produced or not (default: `relation`); `removed` is a query for keys the
    table holds that must go although not recomputed (fct_redemptions: redemptions revealed as stack parents). -#}
{% macro recomputed_rows(relation, key, touched=none, removed=none) -%}
    {{ return(adapter.dispatch('recomputed_rows', 'loyalty')(relation, key, touched, removed)) }}
{%- endmacro %}

{% macro default__recomputed_rows(relation, key, touched=none, removed=none) -%}
select * from {{ relation }}
{%- endmacro %}

{% macro spark__recomputed_rows(relation, key, touched=none, removed=none) -%}
    {%- if not is_incremental() -%}
select *, {{ key_bucket(key) }} as _spark_bucket from {{ relation }}
    {%- else -%}
        {%- set columns = [] -%}
        {%- if execute -%}
            {%- for column in adapter.get_columns_in_relation(this) if column.name != '_spark_bucket' -%}
                {%- do columns.append(adapter.quote(column.name)) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set column_list = columns | join(', ') if columns else '*' -%}
select {{ column_list }}, {{ key_bucket(key) }} as _spark_bucket from {{ relation }}
union all
select {{ 'held.' ~ columns | join(', held.') if columns else 'held.*' }}, held._spark_bucket
from {{ this }} as held
left semi join (
    select {{ key }} from {{ touched or relation }}
    {%- if removed %}
    union all
    select removed.{{ key }} from ({{ removed }}) as removed left semi join {{ this }} as in_table
        on removed.{{ key }} = in_table.{{ key }}
    {%- endif %}
) as touched_keys
    on held._spark_bucket = {{ key_bucket('touched_keys.' ~ key) }}
left anti join (
    select {{ key }} from {{ touched or relation }}
    {%- if removed %}
    union all
    select {{ key }} from ({{ removed }}) as removed
    {%- endif %}
) as recomputed_keys
    on held.{{ key }} = recomputed_keys.{{ key }}
    {%- endif -%}
{%- endmacro %}

{#- Delete the table's rows that match `condition` after a build (a post-hook): DuckDB deletes them. On Spark the
    bucket overwrite of recomputed_rows already left them out of every bucket it rewrote; a bucket whose rows all
    went wrote no rows, so it was not overwritten: its partition is dropped. Only for key-bucketed models whose
    incremental run touches every key that `condition` matches. -#}
{% macro delete_rows_where(condition) -%}
    {{ return(adapter.dispatch('delete_rows_where', 'loyalty')(condition)) }}
{%- endmacro %}

{% macro default__delete_rows_where(condition) -%}
delete from {{ this }} where {{ condition }}
{%- endmacro %}

{% macro spark__delete_rows_where(condition) -%}
    {{- drop_emptied_buckets(condition) -}}
{%- endmacro %}

{#- Spark only (DuckDB's delete+insert needs nothing): drop the buckets still holding rows that match `condition`
    after the bucket overwrite, i.e. buckets whose every key was touched and none produced a row. -#}
{% macro drop_emptied_buckets(condition) -%}
    {{ return(adapter.dispatch('drop_emptied_buckets', 'loyalty')(condition)) }}
{%- endmacro %}

{% macro default__drop_emptied_buckets(condition) -%}{%- endmacro %}

{% macro spark__drop_emptied_buckets(condition) -%}
    {%- if execute -%}
        {%- set emptied = run_query('select distinct _spark_bucket from ' ~ this ~ ' where ' ~ condition) -%}
        {%- for bucket in emptied.columns[0].values() -%}
            {%- do run_query('alter table ' ~ this ~ ' drop if exists partition (_spark_bucket = ' ~ bucket ~ ')') -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
