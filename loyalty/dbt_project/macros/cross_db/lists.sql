{#- Lists (arrays) of values. DuckDB writes a literal list as [a, b] and unnests it with unnest(); Spark spells
    them array(a, b) and explode(). unnest_list(...) is a table-generating expression in the select list:
    each row becomes one row per element (none for an empty or null list). -#}

{% macro list_of(items) -%}
    {{ return(adapter.dispatch('list_of', 'loyalty')(items)) }}
{%- endmacro %}

{% macro default__list_of(items) -%}[{{ items | join(', ') }}]{%- endmacro %}

{% macro spark__list_of(items) -%}array({{ items | join(', ') }}){%- endmacro %}

{% macro unnest_list(expr) -%}
    {{ return(adapter.dispatch('unnest_list', 'loyalty')(expr)) }}
{%- endmacro %}

{% macro default__unnest_list(expr) -%}unnest({{ expr }}){%- endmacro %}

{% macro spark__unnest_list(expr) -%}explode({{ expr }}){%- endmacro %}
