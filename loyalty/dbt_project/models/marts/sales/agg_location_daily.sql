-- Per UTC day and location: paid orders and revenue (by order day), redemptions (by redemption day),
-- points earned and burned (by ledger day). location_id is null for activity tied to no order
-- (rewards, expiries, redemptions without an order).
with

orders as (

    select
        {{ utc_day('ordered_at') }} as day,
        location_id,
        count(*) as paid_orders,
        sum(total_amount) as revenue,
        count(distinct customer_source_id) as distinct_customers,
        cast(sum(case when is_member then 1 else 0 end) as {{ dbt.type_bigint() }}) as member_orders
    from {{ ref('fct_orders') }}
    where is_paid
    group by 1, 2

),

redemptions as (

    select
        {{ utc_day('redeemed_at') }} as day,
        location_id,
        cast(sum(case when status = 'SUCCEEDED' then 1 else 0 end) as {{ dbt.type_bigint() }}) as redemptions_succeeded,
        cast(sum(case when status = 'FAILED' then 1 else 0 end) as {{ dbt.type_bigint() }}) as redemptions_failed
    from {{ ref('fct_redemptions') }}
    group by 1, 2

),

points as (

    select
        {{ utc_day('occurred_at') }} as day,
        location_id,
        cast(sum(case when movement = 'earned' then points else 0 end) as {{ dbt.type_bigint() }}) as points_earned,
        cast(-sum(case when movement = 'burned' then points else 0 end) as {{ dbt.type_bigint() }}) as points_burned
    from {{ ref('fct_loyalty_points') }}
    group by 1, 2

),

days_and_locations as (

    select day, location_id from orders
    union
    select day, location_id from redemptions
    union
    select day, location_id from points

),

final as (

    select
        keys.day,
        keys.location_id,
        coalesce(orders.paid_orders, 0) as paid_orders,
        cast(coalesce(orders.revenue, 0) as {{ type_money() }}) as revenue,
        coalesce(orders.distinct_customers, 0) as distinct_customers,
        coalesce(orders.member_orders, 0) as member_orders,
        coalesce(redemptions.redemptions_succeeded, 0) as redemptions_succeeded,
        coalesce(redemptions.redemptions_failed, 0) as redemptions_failed,
        coalesce(points.points_earned, 0) as points_earned,
        coalesce(points.points_burned, 0) as points_burned
    from days_and_locations as keys
    left join orders
        on keys.day = orders.day and keys.location_id is not distinct from orders.location_id
    left join redemptions
        on keys.day = redemptions.day and keys.location_id is not distinct from redemptions.location_id
    left join points
        on keys.day = points.day and keys.location_id is not distinct from points.location_id

)

select * from final
