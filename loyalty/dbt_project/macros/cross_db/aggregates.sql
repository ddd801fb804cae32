{#- Ordered aggregates. DuckDB takes an ORDER BY inside the aggregate (`first(x order by k)`,
    `string_agg(x, ', ' order by k)`); Spark has no ordered first(), so it sorts the group's values with a
    comparator built from the same ORDER BY. Ordering terms are `expr [asc|desc] [nulls first|last]`;
    nulls sort as in DuckDB (last, unless a term says otherwise). -#}

{#- Spark's first_not_null (macros/first_value.sql): the non-null values of the group with their sort keys,
    sorted, the first one taken (try_element_at: null, not an error under ANSI mode, when every value is null). -#}
{% macro spark__first_not_null(expr, order_by) -%}
    {%- set terms = _order_terms(order_by) -%}
    try_element_at(array_sort(
        collect_list(named_struct('value', {{ expr }}
            {%- for term in terms %}, 'k{{ loop.index }}', {{ term.expr }}{% endfor %})) filter (where {{ expr }} is not null),
        (l, r) -> case
            {%- for term in terms %}
            {%- set k = 'k' ~ loop.index %}
            when l.{{ k }} is null and r.{{ k }} is not null then {{ 1 if term.nulls_last else -1 }}
            when l.{{ k }} is not null and r.{{ k }} is null then {{ -1 if term.nulls_last else 1 }}
            when l.{{ k }} < r.{{ k }} then {{ 1 if term.descending else -1 }}
            when l.{{ k }} > r.{{ k }} then {{ -1 if term.descending else 1 }}
            {%- endfor %}
            else 0 end
    ), 1).value
{%- endmacro %}

{#- The value of `expr` on the row with the smallest / largest `key` (DuckDB arg_min / arg_max, Spark min_by /
    max_by); DuckDB skips rows whose value or key is null, Spark is told to. -#}
{% macro value_at_min(expr, key) -%}
    {{ return(adapter.dispatch('value_at_min', 'loyalty')(expr, key)) }}
{%- endmacro %}

{% macro default__value_at_min(expr, key) -%}arg_min({{ expr }}, {{ key }}){%- endmacro %}

{% macro spark__value_at_min(expr, key) -%}
    min_by({{ expr }}, {{ key }}) filter (where {{ expr }} is not null and {{ key }} is not null)
{%- endmacro %}

{% macro value_at_max(expr, key) -%}
    {{ return(adapter.dispatch('value_at_max', 'loyalty')(expr, key)) }}
{%- endmacro %}

{% macro default__value_at_max(expr, key) -%}arg_max({{ expr }}, {{ key }}){%- endmacro %}

{% macro spark__value_at_max(expr, key) -%}
    max_by({{ expr }}, {{ key }}) filter (where {{ expr }} is not null and {{ key }} is not null)
{%- endmacro %}

{#- The group's values joined with `separator`, in `order_by` order (nulls skipped). -#}
{% macro string_agg_ordered(expr, separator, order_by) -%}
    {{ return(adapter.dispatch('string_agg_ordered', 'loyalty')(expr, separator, order_by)) }}
{%- endmacro %}

{% macro default__string_agg_ordered(expr, separator, order_by) -%}
    string_agg({{ expr }}, '{{ separator }}' order by {{ order_by }})
{%- endmacro %}

{% macro spark__string_agg_ordered(expr, separator, order_by) -%}
    listagg({{ expr }}, '{{ separator }}') within group (order by {{ nulls_last(order_by) }})
{%- endmacro %}
