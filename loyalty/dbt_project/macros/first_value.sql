{#- The first non-null value of `expr` in a group, in `order_by` order: how facts seen through several
    channels are merged attribute by attribute (a webhook's field wins over an export's, the export fills
    what the webhook left out). -#}
{% macro first_not_null(expr, order_by) -%}
    {{ return(adapter.dispatch('first_not_null', 'loyalty')(expr, order_by)) }}
{%- endmacro %}

{% macro default__first_not_null(expr, order_by) -%}
    first({{ expr }} order by {{ order_by }}) filter (where {{ expr }} is not null)
{%- endmacro %}
