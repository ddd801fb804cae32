{#- The grain of an aggregate: no two rows share the same values of `combination` (nulls count as a value). -#}
{% test unique_combination_of_columns(model, combination) %}
    select {{ combination | join(', ') }}, count(*) as rows_with_these_values
    from {{ model }}
    group by {{ combination | join(', ') }}
    having count(*) > 1
{% endtest %}
