-- One row per UTC day of the data (int_data_days): members, active members, the day's points flows, the points
-- outstanding at its end and what they are worth (the liability). A member counts from the day they joined; they
-- are active on a day with a paid order or an earned or burned ledger row in the 90 days up to it (activity before
-- joining included). A point is worth the exchange ratio of the program's pay-with-points (COIN) reward when the
-- data describes one (parameters.coin: exchange_ratio currency units per points_ratio points, the latest described),
-- else vars.point_value; `point_value_source` says which.
with

data_days as (

    select * from {{ ref('int_data_days') }}

),

calendar as (

    select cast({{ dbt.dateadd('day', 'numbers.n', 'data_days.first_day') }} as date) as day
    from ({{ whole_numbers() }}) as numbers
    cross join data_days
    where numbers.n <= {{ dbt.datediff('data_days.first_day', 'data_days.last_day', 'day') }}

),

members as (

    select customer_source_id, {{ utc_day('joined_at') }} as joined_day
    from {{ ref('dim_members') }}
    where joined_at is not null

),

joins as (

    select joined_day as day, count(*) as joined
    from members
    group by joined_day

),

activity as (

    select customer_source_id, {{ utc_day('ordered_at') }} as day
    from {{ ref('fct_orders') }}
    where is_paid

    union

    select customer_source_id, {{ utc_day('occurred_at') }}
    from {{ ref('fct_loyalty_points') }}
    where movement in ('earned', 'burned')

),

-- each activity day makes its member active from that day (or their joining day, if later) for 90 days, up to the
-- member's next activity day, which starts a spell of its own: spells never overlap, so they can be counted
spells as (

    select
        activity.customer_source_id,
        case when activity.day > members.joined_day then activity.day else members.joined_day end as first_active_day,
        cast({{ dbt.dateadd('day', 89, 'activity.day') }} as date) as window_end,
        lead(activity.day) over (
            partition by activity.customer_source_id order by activity.day asc nulls last
        ) as next_activity_day
    from activity
    inner join members
        on activity.customer_source_id = members.customer_source_id

),

spell_bounds as (

    select
        first_active_day,
        case
            when next_activity_day is not null and next_activity_day <= window_end
                then cast({{ dbt.dateadd('day', -1, 'next_activity_day') }} as date)
            else window_end
        end as last_active_day
    from spells

),

active_changes as (

    select day, sum(change) as change
    from (
        select first_active_day as day, 1 as change from spell_bounds where first_active_day <= last_active_day
        union all
        select cast({{ dbt.dateadd('day', 1, 'last_active_day') }} as date), -1
        from spell_bounds where first_active_day <= last_active_day
    ) as changes
    group by day

),

points as (

    select
        {{ utc_day('occurred_at') }} as day,
        sum(points) as net_points,
        sum(case when movement = 'earned' then points else 0 end) as points_earned,
        -sum(case when movement = 'burned' then points else 0 end) as points_burned,
        -sum(case when movement = 'expired' then points else 0 end) as points_expired
    from {{ ref('fct_loyalty_points') }}
    group by 1

),

pay_with_points as (

    select exchange_ratio, points_ratio
    from {{ ref('int_rewards_described') }}
    where reward_type = 'COIN' and exchange_ratio is not null and points_ratio > 0
    order by last_seen_at desc nulls last, reward_id desc
    limit 1

),

point_value as (

    select
        coalesce(
            (select {{ exact_ratio('exchange_ratio * 1000000', 'points_ratio * 1000000', 6) }} from pay_with_points),
            cast({{ var('point_value') }} as decimal(18, 6))
        ) as point_value,
        case when exists (select 1 from pay_with_points) then 'pay_with_points_reward' else 'point_value_var' end
            as point_value_source

),

daily as (

    select
        calendar.day,
        coalesce(joins.joined, 0) as joined,
        coalesce(active_changes.change, 0) as active_change,
        coalesce(points.net_points, 0) as net_points,
        coalesce(points.points_earned, 0) as points_earned,
        coalesce(points.points_burned, 0) as points_burned,
        coalesce(points.points_expired, 0) as points_expired
    from calendar
    left join joins on calendar.day = joins.day
    left join active_changes on calendar.day = active_changes.day
    left join points on calendar.day = points.day

),

{%- set to_date = "over (order by day asc nulls last rows between unbounded preceding and current row)" %}

running as (

    select
        day,
        -- members who joined before the data's first day count from it
        cast(sum(joined) {{ to_date }} as {{ dbt.type_bigint() }})
        + (select count(*) from members, data_days where members.joined_day < data_days.first_day) as members,
        cast(sum(active_change) {{ to_date }} as {{ dbt.type_bigint() }}) as active_members,
        cast(points_earned as {{ dbt.type_bigint() }}) as points_earned,
        cast(points_burned as {{ dbt.type_bigint() }}) as points_burned,
        cast(points_expired as {{ dbt.type_bigint() }}) as points_expired,
        cast(sum(net_points) {{ to_date }} as {{ dbt.type_bigint() }}) as outstanding_points
    from daily

),

final as (

    select
        running.day,
        running.members,
        running.active_members,
        {{ exact_rate('running.active_members', 'running.members') }} as active_member_rate,
        running.points_earned,
        running.points_burned,
        running.points_expired,
        running.outstanding_points,
        point_value.point_value,
        point_value.point_value_source,
        cast(round(running.outstanding_points * point_value.point_value, 2) as {{ type_money() }}) as liability_amount
    from running
    cross join point_value

)

select * from final
