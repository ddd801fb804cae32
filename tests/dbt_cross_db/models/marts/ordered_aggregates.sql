-- Ordered aggregates and null ordering: the first non-null value by a multi-key order (desc keys, null keys,
-- ties broken by a later key), arg min / max, ordered string aggregation, and row_number over nullable keys.
with

sightings as (
    select 'a' as entity, 'first' as val, 1 as rank_key, cast('2024-01-02' as date) as seen_on, 'k1' as tiebreak
    union all select 'a', null, 0, cast('2024-01-01' as date), 'k0'
    union all select 'a', 'second', 1, cast('2024-01-03' as date), 'k2'
    union all select 'a', 'null-date', 1, null, 'k3'
    union all select 'b', 'only', 2, null, 'k1'
    union all select 'b', 'tie-b', 2, null, 'k0'
    union all select 'c', null, 1, cast('2024-01-01' as date), 'k1'
    union all select 'd', 'x,y', null, cast('2024-02-01' as date), 'k1'
    union all select 'd', 'z', 3, cast('2024-01-15' as date), 'k2'
),

aggregated as (
    select
        entity,
        {{ first_not_null('val', 'rank_key, seen_on, tiebreak') }} as first_by_rank_then_day,
        {{ first_not_null('val', 'seen_on desc, rank_key, tiebreak') }} as latest_first,
        {{ first_not_null('val', 'rank_key nulls first, tiebreak desc') }} as nulls_first_key,
        {{ value_at_min('val', 'tiebreak') }} as at_min_tiebreak,
        {{ value_at_max('val', 'seen_on') }} as at_max_day,
        {{ string_agg_ordered('val', '|', 'tiebreak desc') }} as joined
    from sightings
    group by entity
),

numbered as (
    select
        entity,
        tiebreak,
        row_number() over (partition by entity order by {{ nulls_last('seen_on, tiebreak') }}) as by_day,
        row_number() over (partition by entity order by {{ nulls_last('rank_key desc, tiebreak') }}) as by_rank_desc
    from sightings
)

select
    numbered.*,
    aggregated.first_by_rank_then_day,
    aggregated.latest_first,
    aggregated.nulls_first_key,
    aggregated.at_min_tiebreak,
    aggregated.at_max_day,
    aggregated.joined
from numbered
inner join aggregated on numbered.entity = aggregated.entity
