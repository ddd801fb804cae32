-- One row per join month (the UTC month of dim_members.joined_at) and month since joining, from the join month up
-- to the data's last month: the cohort's size, its members with a paid order that month as members
-- (fct_orders.is_member_at_order), that revenue and its running total, retention = active / size; and per
-- cohort, how many of its members redeemed points (a burned ledger row) within 90 days of joining. Revenue over
-- all cohorts equals the revenue of members' paid orders placed as members.
with

members as (

    select
        customer_source_id,
        cast({{ dbt.date_trunc('month', 'joined_at') }} as date) as join_month,
        days_to_first_redemption
    from {{ ref('dim_members') }}
    where joined_at is not null

),

cohorts as (

    select
        join_month,
        count(*) as cohort_size,
        cast(sum(case when days_to_first_redemption <= 90 then 1 else 0 end) as {{ dbt.type_bigint() }})
            as redeemed_within_90_days
    from members
    group by join_month

),

months as (

    select
        cohorts.join_month,
        numbers.n as months_since_joining
    from cohorts
    cross join ({{ whole_numbers() }}) as numbers
    cross join {{ ref('int_data_days') }} as data_days
    where numbers.n <= {{ dbt.datediff('cohorts.join_month', 'data_days.last_day', 'month') }}

),

member_orders as (

    select
        members.join_month,
        {{ dbt.datediff(
            'members.join_month', 'cast(' ~ dbt.date_trunc('month', 'orders.ordered_at') ~ ' as date)', 'month'
        ) }}
            as months_since_joining,
        orders.customer_source_id,
        orders.total_amount
    from {{ ref('fct_orders') }} as orders
    inner join members
        on orders.customer_source_id = members.customer_source_id
    where orders.is_paid and orders.is_member_at_order

),

activity as (

    select
        join_month,
        months_since_joining,
        count(distinct customer_source_id) as active_members,
        sum(total_amount) as revenue
    from member_orders
    group by join_month, months_since_joining

),

final as (

    select
        months.join_month,
        months.months_since_joining,
        cohorts.cohort_size,
        coalesce(activity.active_members, 0) as active_members,
        cast(coalesce(activity.revenue, 0) as {{ type_money() }}) as revenue,
        cast(sum(coalesce(activity.revenue, 0)) over (
            partition by months.join_month order by months.months_since_joining asc nulls last
            rows between unbounded preceding and current row
        ) as {{ type_money() }}) as cumulative_revenue,
        {{ exact_rate('coalesce(activity.active_members, 0)', 'cohorts.cohort_size') }} as retention,
        cohorts.redeemed_within_90_days,
        {{ exact_rate('cohorts.redeemed_within_90_days', 'cohorts.cohort_size') }} as redeemed_within_90_days_share
    from months
    inner join cohorts
        on months.join_month = cohorts.join_month
    left join activity
        on months.join_month = activity.join_month
            and months.months_since_joining = activity.months_since_joining

)

select * from final
