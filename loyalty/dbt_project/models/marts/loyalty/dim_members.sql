-- One row per member (customer_source_id of a loyalty-card holder): profile, points, paid-order history and
-- the computed traits of macros/member_traits.sql.
{%- set traits = member_traits() %}
with

members as (

    select * from {{ ref('int_members_identified') }}

),

emails as (

    select customer_source_id, {{ first_not_null('email', 'customer_id') }} as email
    from {{ ref('int_customers_identified') }}
    group by customer_source_id

),

tiers as (

    select * from {{ ref('int_member_tiers_current') }}

),

ledger as (

    select
        customer_source_id,
        cast(sum(points) as {{ dbt.type_bigint() }}) as points_balance,
        cast(sum(case when movement = 'earned' then points else 0 end) as {{ dbt.type_bigint() }}) as lifetime_points_earned,
        cast(-sum(case when movement = 'burned' then points else 0 end) as {{ dbt.type_bigint() }}) as lifetime_points_burned,
        cast(-sum(case when movement = 'expired' then points else 0 end) as {{ dbt.type_bigint() }}) as lifetime_points_expired,
        max(occurred_at) as last_ledger_at
    from {{ ref('fct_loyalty_points') }}
    group by customer_source_id

),

orders as (

    select * from {{ ref('fct_orders') }}

),

paid_orders as (

    select
        customer_source_id,
        count(*) as orders_count,
        sum(total_amount) as lifetime_order_amount,
        count(distinct case when location_id not in {{ sql_list(var('digital_locations')) }} then location_id end)
            as distinct_locations_visited,
        min(ordered_at) as first_order_at,
        max(ordered_at) as last_order_at
    from orders
    where is_paid
    group by customer_source_id

),

any_orders as (

    select customer_source_id, max(ordered_at) as last_any_order_at
    from orders
    group by customer_source_id

),

redemptions as (

    select customer_source_id, max(redeemed_at) as last_redemption_at
    from {{ ref('fct_redemptions') }}
    group by customer_source_id

),

product_purchases as (

    select
        orders.customer_source_id,
        items.product_id,
        items.product_source_id,
        count(distinct orders.order_id) as paid_orders_with_product
    from orders
    inner join {{ ref('int_order_items_unnested') }} as items
        on orders.order_id = items.order_id
    where orders.is_paid
    group by 1, 2, 3

),

member_metrics as (

    select
        members.customer_source_id,
        emails.email,
        tiers.current_tier,
        coalesce(ledger.points_balance, 0) as points_balance,
        coalesce(ledger.lifetime_points_earned, 0) as lifetime_points_earned,
        coalesce(ledger.lifetime_points_burned, 0) as lifetime_points_burned,
        coalesce(ledger.lifetime_points_expired, 0) as lifetime_points_expired,
        coalesce(paid_orders.orders_count, 0) as orders_count,
        cast(coalesce(paid_orders.lifetime_order_amount, 0) as {{ type_money() }}) as lifetime_order_amount,
        coalesce(paid_orders.distinct_locations_visited, 0) as distinct_locations_visited,
        paid_orders.first_order_at,
        paid_orders.last_order_at,
        greatest(ledger.last_ledger_at, redemptions.last_redemption_at, any_orders.last_any_order_at) as last_activity_at,
        members.joined_at
    from members
    left join emails on members.customer_source_id = emails.customer_source_id
    left join tiers on members.customer_source_id = tiers.customer_source_id
    left join ledger on members.customer_source_id = ledger.customer_source_id
    left join paid_orders on members.customer_source_id = paid_orders.customer_source_id
    left join any_orders on members.customer_source_id = any_orders.customer_source_id
    left join redemptions on members.customer_source_id = redemptions.customer_source_id

),

final as (

    select
        member_metrics.*
        {%- for trait in traits %},
        {%- if trait.product is defined %}
        coalesce((
            select cast(sum(p.paid_orders_with_product) as {{ dbt.type_bigint() }}) from product_purchases as p
            where p.customer_source_id = member_metrics.customer_source_id
              and (p.product_source_id = '{{ trait.product }}' or p.product_id = '{{ trait.product }}')
        ), 0) as {{ trait.name }}
        {%- else %}
        {{ trait.sql }} as {{ trait.name }}
        {%- endif %}
        {%- endfor %}
    from member_metrics

)

select * from final
