{#- Incremental models re-read the last `lookback_days` of ingestion before their high-water mark, so late
    files and late deliveries are picked up; rows already kept are never replaced (the earliest copy of a
    record wins, exactly as in a full refresh). -#}

{% macro ingested_since_watermark(column='_ingested_at', watermark_column='_ingested_at') -%}
    {%- if is_incremental() -%}
    {{ column }} >= (
        select coalesce(
            {{ dbt.dateadd('day', -1 * var('lookback_days'), 'max(' ~ watermark_column ~ ')') }},
            cast('1900-01-01' as {{ type_timestamptz() }})
        )
        from {{ this }}
    )
    {%- else -%}
    true
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
