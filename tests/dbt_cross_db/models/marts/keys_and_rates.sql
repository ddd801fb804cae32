-- Keys spelled from times and numbers, whole-number rates, boolean words, JSON array heads: each engine must give
-- DuckDB's text and values exactly (they become mart keys and columns).
{%- set instants = [
    '2024-01-02 03:04:05+00', '2024-01-02 03:04:05.5+00', '2024-01-02 03:04:05.120+00', '2024-01-02 03:04:05.123456+00',
    '2024-01-02 03:04:05.1235+00', '2024-01-02 03:04:05.0005+00', '1960-01-01 10:00:00.0015+00',
    '1960-01-01 10:00:00.1235+00', '0990-06-01 00:00:00+00',
] %}
{%- set words = ['true', 'TRUE', 'tRuE', 't', 'T', 'yes', 'Y', '1', 'false', 'F', 'no', 'N', '0', 'on', 'off', ' true',
    'true ', '01', '2', '', 'garbage'] %}
{%- set ratios = [[57, 800], [1, 32], [0, 5], [5, 5], [1, 3], [2, 3], [7, 0], [123456789, 1000000007]] %}
{%- set arrays = ['["Paris", "Lima"]', '[]', '[null]', '[{"a": 1}]', '"Paris"', 'not json', '[1.50]', ' ["x"]', '[broken'] %}
with

instants as (
    {%- for instant in instants %}
    select 'instant' as kind, {{ loop.index }} as n, cast('{{ instant }}' as {{ type_timestamptz() }}) as at_time,
        cast(null as {{ type_text() }}) as raw_text, cast(null as bigint) as numerator, cast(null as bigint) as denominator
    union all
    {%- endfor %}
    select 'instant', 0, cast(null as {{ type_timestamptz() }}), null, null, null
),

words as (
    {%- for word in words %}
    select 'word' as kind, {{ loop.index }} as n, cast(null as {{ type_timestamptz() }}) as at_time, '{{ word }}' as raw_text,
        cast(null as bigint) as numerator, cast(null as bigint) as denominator
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

ratios as (
    {%- for numerator, denominator in ratios %}
    select 'ratio' as kind, {{ loop.index }} as n, cast(null as {{ type_timestamptz() }}) as at_time,
        cast(null as {{ type_text() }}) as raw_text, cast({{ numerator }} as bigint) as numerator,
        cast({{ denominator }} as bigint) as denominator
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

arrays as (
    {%- for text in arrays %}
    select 'array' as kind, {{ loop.index }} as n, cast(null as {{ type_timestamptz() }}) as at_time, '{{ text }}' as raw_text,
        cast(null as bigint) as numerator, cast(null as bigint) as denominator
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
),

inputs as (
    select * from instants
    union all
    select * from words
    union all
    select * from ratios
    union all
    select * from arrays
)

select
    kind,
    n,
    'key:' || coalesce({{ timestamp_text('at_time') }}, '') as time_key,
    {{ epoch_ms('at_time') }} as at_epoch_ms,
    coalesce(cast({{ epoch_ms('at_time') }} as {{ type_text() }}), '') as epoch_ms_text,
    {{ dbt.safe_cast('raw_text', 'boolean') }} as as_boolean,
    {{ exact_rate('numerator', 'denominator') }} as rate,
    {{ text_or_first_element('raw_text') }} as first_element,
    nullif(regexp_extract(raw_text, 'ord_[A-Za-z0-9]+', 0), '') as order_named
from inputs
