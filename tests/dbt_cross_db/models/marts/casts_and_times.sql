-- Text as the vendors send it → numbers, money, instants and days; bad values become nulls on both engines.
{%- set texts = [
    '2024-01-02T03:04:05Z', '2024-01-02T03:04:05.123456Z', '2024-01-02T03:04:05.1234567Z', '2024-01-02 03:04:05',
    '2024-01-02', '2024-01-02T03:04:05+0200', '2024-01-02T03:04:05+02', '2024-01-02T23:59:59-05:30',
    '2024-01-02T03:04Z', '12: 25: 59.620Z', '', 'garbage', '2024-13-01T00:00:00Z', ' 2024-01-02T03:04:05Z ',
    '1.5', '2.5', '-2.5', ' 12 ', '1e3', '+5', '12.34567', '1150', '-0', '12345678901', '.5', '1999', '-1999',
] %}
with

texts as (
    {%- for text in texts %}
    select {{ loop.index }} as text_id, '{{ text }}' as raw_text
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
    union all
    select 0, null
),

typed as (
    select
        text_id,
        raw_text,
        {{ dbt.safe_cast('raw_text', 'bigint') }} as as_bigint,
        {{ dbt.safe_cast('raw_text', 'decimal(38,4)') }} as as_decimal,
        {{ dbt.safe_cast('raw_text', 'date') }} as as_date,
        {{ to_utc_timestamp('raw_text') }} as as_instant,
        {{ cents_to_amount('raw_text') }} as cents_as_money,
        {{ to_amount('raw_text') }} as as_money
    from texts
)

select
    *,
    {{ utc_day('as_instant') }} as instant_day,
    {{ dbt.dateadd('day', -3, 'as_instant') }} as three_days_before,
    {{ dbt.dateadd('hour', 5, 'as_instant') }} as five_hours_after,
    cast(text_id as {{ type_text() }}) || ':' || coalesce(raw_text, '') as label,
    cast(null as {{ type_json() }}) as no_document,
    cast(as_decimal as {{ type_money() }}) as money_cast,
    case when as_decimal is not null then cast(1.0 * text_id / 7 as decimal(9, 4)) end as ratio
from typed
