{#- The two types every mart promises: money as DECIMAL(18,2) currency units, times as UTC TIMESTAMPTZ. -#}

{% macro type_money() -%}
    {{ return(adapter.dispatch('type_money', 'loyalty')()) }}
{%- endmacro %}

{% macro default__type_money() -%}decimal(18,2){%- endmacro %}

{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch('type_timestamptz', 'loyalty')()) }}
{%- endmacro %}

{% macro default__type_timestamptz() -%}timestamptz{%- endmacro %}

{#- Voucherify money is an integer number of minor units: 1150 → 11.50. Text that is not a number → null. -#}
{% macro cents_to_amount(expr) -%}
    cast({{ dbt.safe_cast(expr, 'decimal(38,4)') }} / 100 as {{ type_money() }})
{%- endmacro %}

{#- Segment money is whatever the client sent, often a numeric string ("14.99"): currency units already. -#}
{% macro to_amount(expr) -%}
    cast({{ dbt.safe_cast(expr, 'decimal(38,4)') }} as {{ type_money() }})
{%- endmacro %}

{#- ISO-8601 text with 0/3/6 fractional digits and `Z` or an offset → UTC timestamptz; garbage → null. -#}
{% macro to_utc_timestamp(expr) -%}
    {{ dbt.safe_cast(expr, type_timestamptz()) }}
{%- endmacro %}

{#- The UTC calendar day of a timestamptz (the session runs in UTC, see profiles.yml). -#}
{% macro utc_day(expr) -%}
    cast({{ dbt.date_trunc('day', expr) }} as date)
{%- endmacro %}

{#- dbt-duckdb's safe_cast is a plain cast, which fails the whole model on one bad value (a timestamp
    sent as "12: 25: 59.620Z" exists in the vendor's own samples). try_cast turns it into a null. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#- A rate as DECIMAL(9,4), rounded half up from the exact ratio of two non-negative whole numbers; null when
    the denominator is 0. Not `1.0 * a / b`: that divides in DOUBLE and misrounds ties such as 57/800 = 0.07125. -#}
{% macro exact_rate(numerator, denominator) -%}
    {{ return(adapter.dispatch('exact_rate', 'loyalty')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__exact_rate(numerator, denominator) -%}
    case when {{ denominator }} > 0 then
        cast(
            cast((20000 * ({{ numerator }}) + ({{ denominator }})) // (2 * ({{ denominator }})) as decimal(18, 0))
            * 0.0001 as decimal(9, 4)
        )
    end
{%- endmacro %}
