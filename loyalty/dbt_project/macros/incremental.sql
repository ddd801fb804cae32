{#- Incremental models and late data.

    Every file that lands, however old its content, is loaded in a new ingestion batch with a new
    `_ingested_at`. So an incremental model reads the rows ingested after its own high-water mark, and
    matches them by key against everything it already holds (the earliest copy of a record wins, exactly
    as in a full refresh); models that merge sightings recompute each touched fact from all its sightings.
    Segment also re-reads `lookback_days` of `received_at` before its newest message (late events).

    High-water marks are read once at compile time and inlined as literals: a literal filter is pushed down
    into the staging views, so only new raw rows get their JSON parsed (a subquery filter is not). -#}

{% macro _high_water_mark(column) -%}
    {%- if execute -%}
        {%- set result = run_query('select cast(max(' ~ column ~ ') as ' ~ type_text() ~ ') from ' ~ this) -%}
        {{- return(result.columns[0].values()[0]) -}}
    {%- endif -%}
    {{- return(none) -}}
{%- endmacro %}

{% macro ingested_since_watermark(column='_ingested_at', watermark_column='_ingested_at') -%}
    {%- set watermark = _high_water_mark(watermark_column) if is_incremental() else none -%}
    {%- if watermark is none -%}
    true
    {%- else -%}
    {{ column }} > cast('{{ watermark }}' as {{ type_timestamptz() }})
    {%- endif -%}
{%- endmacro %}

{#- Rows newer than the look-back window on `time_column` (e.g. Segment's received_at). -#}
{% macro within_lookback(time_column) -%}
    {%- set watermark = _high_water_mark(time_column) if is_incremental() else none -%}
    {%- if watermark is none -%}
    true
    {%- else -%}
    {{ time_column }} >= {{ dbt.dateadd('day', -1 * var('lookback_days'), "cast('" ~ watermark ~ "' as " ~ type_timestamptz() ~ ")") }}
    {%- endif -%}
{%- endmacro %}

{#- In an incremental run, keep only keys this model does not hold yet. -#}
{% macro not_yet_loaded(key_column) -%}
    {%- if is_incremental() -%}
    {{ key_column }} not in (select {{ key_column }} from {{ this }})
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}
