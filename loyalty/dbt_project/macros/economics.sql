{#- Exact arithmetic and the documented mappings of the program-economics marts (docs/models.md). -#}

{#- An integer type wide enough for products of money in cents and counts (lift compares cents × orders). -#}
{% macro type_wide_integer() -%}
    {{ return(adapter.dispatch('type_wide_integer', 'loyalty')()) }}
{%- endmacro %}

{% macro default__type_wide_integer() -%}hugeint{%- endmacro %}

{#- numerator / denominator of two whole numbers (the numerator may be negative, the denominator is positive)
    rounded to `scale` decimals with halves away from zero, computed in integers so it is exact; DECIMAL(18, scale),
    null when the denominator is not positive. For non-negative rates to 4 places, exact_rate says the same. -#}
{% macro exact_ratio(numerator, denominator, scale) -%}
    {{ return(adapter.dispatch('exact_ratio', 'loyalty')(numerator, denominator, scale)) }}
{%- endmacro %}

{% macro default__exact_ratio(numerator, denominator, scale) -%}
    {%- set n = "cast(" ~ numerator ~ " as " ~ type_wide_integer() ~ ")" -%}
    {%- set d = "cast(" ~ denominator ~ " as " ~ type_wide_integer() ~ ")" -%}
    case when {{ d }} > 0 then
        cast(
            cast(sign({{ n }}) * ((2 * {{ 10 ** scale }} * abs({{ n }}) + {{ d }}) // (2 * {{ d }})) as decimal(38, 0))
            * {{ '0.' ~ '0' * (scale - 1) ~ '1' }} as decimal(18, {{ scale }}))
    end
{%- endmacro %}

{#- An amount (DECIMAL currency units) as a whole number of cents, for exact_ratio. -#}
{% macro amount_in_cents(amount) -%}
    cast({{ amount }} * 100 as {{ type_wide_integer() }})
{%- endmacro %}

{#- A quartile score 1-4 (4 best) from the rank among the scored members (rank 1 = best): 1 + ⌊4 × (members
    ranked better) / members⌋ read from the worst. `rank_from_worst` = rank() ordered worst first, so ties share
    a score and the order of tied members never matters. -#}
{% macro quartile_score(rank_from_worst, members) -%}
    cast(1 + floor(4.0 * ({{ rank_from_worst }} - 1) / {{ members }}) as integer)
{%- endmacro %}

{#- RFM segments from the quartile scores (4 best), first match wins; members without a paid order have no
    scores and are 'No purchase'. The mapping is documented in docs/models.md. -#}
{% macro rfm_segment(r, f, m) -%}
    case
        when {{ r }} is null then 'No purchase'
        when {{ r }} = 4 and {{ f }} >= 3 and {{ m }} >= 3 then 'Champions'
        when {{ r }} >= 3 and {{ f }} >= 3 then 'Loyal'
        when {{ r }} = 4 then 'New'
        when {{ r }} = 3 then 'Promising'
        when {{ f }} >= 3 then 'At risk'
        else 'Hibernating'
    end
{%- endmacro %}

{#- Whole numbers 0, 1, …, up to 65,535 (as `n`): the days or months of the data's span. Portable: a cross join
    of two-row tables (dbt's generate_series), no engine's own series function; a bigint on every engine (dbt-spark's
    generate_series sums powers of 2 as doubles). -#}
{% macro whole_numbers() -%}
    select cast(generated_number - 1 as {{ dbt.type_bigint() }}) as n from ({{ dbt.generate_series(65536) }}) as series
{%- endmacro %}
