-- The inputs of bucketed_recompute, in two rounds (var `round`): round 2 changes every third key, deletes every
-- fifth (without recomputing it, as fct_redemptions drops a redemption revealed as a stack parent) and adds five.
with

numbers as (
    {%- for n in range(1, 46) %}
    select {{ n }} as n
    {%- if not loop.last %} union all{% endif %}
    {%- endfor %}
)

select
    'key_' || cast(n as {{ type_text() }}) as k,
    case when {{ var('round') }} = 2 and n % 3 = 0 then 'changed' else 'first' end as v,
    {{ var('round') }} = 2 and n % 5 = 0 as dropped,
    case when n % 3 = 0 or n > 40 then 2 else 1 end as changed_in_round
from numbers
where n <= 40 or {{ var('round') }} = 2
