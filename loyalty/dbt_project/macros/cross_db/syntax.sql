{#- Small differences of SQL syntax.

    like_escaped: a LIKE pattern whose `\` escapes the next character ('vtx\_%': a literal underscore). DuckDB
    needs `escape '\'`; Spark escapes with `\` by default and reads `'\'` as an unterminated string.

    as_not_materialized: a CTE DuckDB must not materialise (so filters reach the raw table); Spark inlines CTEs
    anyway and has no such keyword: `deliveries {{ as_not_materialized() }} (select ...)`.

    Quoted identifiers need no macro: {{ adapter.quote('timestamp') }} is "timestamp" on DuckDB and `timestamp` on
    Spark, where a double-quoted word is a string literal (a silent wrong result, not an error). -#}

{% macro like_escaped(expr, pattern) -%}
    {{ return(adapter.dispatch('like_escaped', 'loyalty')(expr, pattern)) }}
{%- endmacro %}

{% macro default__like_escaped(expr, pattern) -%}{{ expr }} like '{{ pattern }}' escape '\'{%- endmacro %}

{% macro spark__like_escaped(expr, pattern) -%}{{ expr }} like '{{ pattern }}'{%- endmacro %}

{% macro as_not_materialized() -%}
    {{ return(adapter.dispatch('as_not_materialized', 'loyalty')()) }}
{%- endmacro %}

{% macro default__as_not_materialized() -%}as not materialized{%- endmacro %}

{% macro spark__as_not_materialized() -%}as{%- endmacro %}
