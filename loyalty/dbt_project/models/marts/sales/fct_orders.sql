{{ config(materialized='incremental', unique_key='order_id', on_schema_change='append_new_columns',
          incremental_strategy=recompute_strategy(), partition_by=key_bucket_partition()) }}
-- One row per order id with its latest status, whether that makes it paid (is_paid: THE definition of a paid
-- order every mart, dashboard and test uses), location, the order it replaces after a POS return,
-- membership (ever, and at the time of the order) and the points it earned net of what was taken back for it.
-- Incremental: orders that changed since the last build are rebuilt, and so are orders whose points
-- changed or whose customer became a member.
with

{% if is_incremental() %}
touched_orders as (

    select order_id from {{ ref('int_orders_located') }}
    where {{ ingested_since_watermark('last_ingested_at', '_source_loaded_at') }}

    union

    select order_id from {{ ref('int_loyalty_transactions_deduped') }}
    where order_id is not null
        and {{ ingested_since_watermark('last_ingested_at', '_source_loaded_at') }}

    union

    select located.order_id
    from {{ ref('int_orders_located') }} as located
    left join {{ ref('int_customers_identified') }} as customers
        on located.customer_id = customers.customer_id
    inner join {{ ref('int_members_identified') }} as new_members
        on coalesce(located.customer_source_id, customers.customer_source_id) = new_members.customer_source_id
    where {{ ingested_since_watermark('new_members.last_ingested_at', '_source_loaded_at') }}

),
{% endif %}

orders as (

    select * from {{ ref('int_orders_located') }}
    {% if is_incremental() %}
    where order_id in (select order_id from touched_orders)
    {% endif %}

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

members as (

    select customer_source_id, joined_at, last_ingested_at from {{ ref('int_members_identified') }}

),

-- earned for the order, net of adjustments tied to it (the POS takes a returned order's points back with a
-- POINTS_REMOVAL naming the order)
points_earned as (

    select
        order_id,
        cast(sum(points) as {{ dbt.type_bigint() }}) as points_earned,
        max(last_ingested_at) as last_ingested_at
    from {{ ref('int_loyalty_transactions_deduped') }}
    where movement in ('earned', 'adjusted') and order_id is not null
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
        coalesce(resolved.status in {{ sql_list(var('paid_order_statuses')) }}, false) as is_paid,
        resolved.resolved_customer_source_id as customer_source_id,
        resolved.location_id,
        resolved.origin_order_id,
        resolved.amount,
        resolved.discount_amount,
        resolved.total_amount,
        members.customer_source_id is not null as is_member,
        coalesce(members.joined_at <= resolved.created_at, false) as is_member_at_order,
        coalesce(points_earned.points_earned, 0) as points_earned,
        greatest(resolved.last_ingested_at, members.last_ingested_at, points_earned.last_ingested_at)
            as _source_loaded_at
    from resolved
    left join members
        on resolved.resolved_customer_source_id = members.customer_source_id
    left join points_earned
        on resolved.order_id = points_earned.order_id

)

{{ recomputed_rows('final', 'order_id') }}
