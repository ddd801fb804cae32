-- One row: the first and the last UTC day of the data — of any order, redemption, ledger row or publication in
-- the marts. The economics marts measure "now" from `last_day` (recency, active members, whether a month is
-- over), never from the clock, so the same data always gives the same answer. Reads the fact marts, so it is
-- built after them and before the marts that use it.
with

days as (

    select min({{ utc_day('ordered_at') }}) as first_day, max({{ utc_day('ordered_at') }}) as last_day
    from {{ ref('fct_orders') }}

    union all

    select min({{ utc_day('redeemed_at') }}), max({{ utc_day('redeemed_at') }})
    from {{ ref('fct_redemptions') }}

    union all

    select min({{ utc_day('occurred_at') }}), max({{ utc_day('occurred_at') }})
    from {{ ref('fct_loyalty_points') }}

    union all

    select min({{ utc_day('published_at') }}), max({{ utc_day('published_at') }})
    from {{ ref('fct_publications') }}

)

select min(first_day) as first_day, max(last_day) as last_day
from days
