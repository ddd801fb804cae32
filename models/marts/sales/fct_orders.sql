-- One row per order id with its latest status, location, membership and the points it earned.
with

orders as (

    select * from {{ ref('int_orders_located') }}

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

members as (

    select customer_source_id from {{ ref('int_members_identified') }}

),

points_earned as (

    select order_id, cast(sum(points) as {{ dbt.type_bigint() }}) as points_earned
    from {{ ref('fct_loyalty_points') }}
    where movement = 'earned' and order_id is not null
    group by order_id

),

resolved as (

    select
        orders.*,
        coalesce(orders.customer_source_id, customers.customer_source_id) as resolved_customer_source_id
    from orders
    left join customers
        on orders.customer_id = customers.customer_id

),

final as (

    select
        resolved.order_id,
        resolved.created_at as ordered_at,
        resolved.status,
        resolved.resolved_customer_source_id as customer_source_id,
        resolved.location_id,
        resolved.amount,
        resolved.discount_amount,
        resolved.total_amount,
        members.customer_source_id is not null as is_member,
        coalesce(points_earned.points_earned, 0) as points_earned
    from resolved
    left join members
        on resolved.resolved_customer_source_id = members.customer_source_id
    left join points_earned
        on resolved.order_id = points_earned.order_id

)

select * from final
