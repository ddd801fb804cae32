-- Per UTC month and location, plus one all-locations row (location_id null): paid orders, revenue and distinct
-- customers of members at the time of the order (fct_orders.is_member_at_order) and of everyone else, their
-- average order values, the lift of the members' one over the others', and orders per customer. An order without
-- a location counts only in the all-locations row.
with

orders as (

    select
        cast({{ dbt.date_trunc('month', 'ordered_at') }} as date) as month,
        location_id,
        customer_source_id,
        total_amount,
        is_member_at_order
    from {{ ref('fct_orders') }}
    where is_paid

),

{%- set groups = {'member': 'is_member_at_order', 'nonmember': 'not is_member_at_order'} %}
{%- set measures %}
{%- for group, condition in groups.items() %}
        cast(sum(case when {{ condition }} then 1 else 0 end) as {{ dbt.type_bigint() }}) as {{ group }}_paid_orders,
        cast(coalesce(sum(case when {{ condition }} then total_amount end), 0) as {{ type_money() }}) as {{ group }}_revenue,
        count(distinct case when {{ condition }} then customer_source_id end) as {{ group }}_customers
{%- if not loop.last %},{% endif %}
{%- endfor %}
{%- endset %}

per_location as (

    select month, location_id, {{ measures }}
    from orders
    where location_id is not null
    group by month, location_id

),

all_locations as (

    select month, cast(null as {{ dbt.type_string() }}) as location_id, {{ measures }}
    from orders
    group by month

),

unioned as (

    select * from per_location
    union all
    select * from all_locations

),

final as (

    select
        month,
        location_id,
        member_paid_orders,
        member_revenue,
        member_customers,
        nonmember_paid_orders,
        nonmember_revenue,
        nonmember_customers,
        cast({{ exact_ratio(amount_in_cents('member_revenue'), '100 * member_paid_orders', 2) }} as {{ type_money() }})
            as aov_member,
        cast(
            {{ exact_ratio(amount_in_cents('nonmember_revenue'), '100 * nonmember_paid_orders', 2) }}
            as {{ type_money() }}
        ) as aov_nonmember,
        -- aov_member / aov_nonmember - 1 of the exact averages: (member cents × others' orders − others' cents ×
        -- member orders) / (others' cents × member orders)
        case when member_paid_orders > 0 then {{ exact_ratio(
            amount_in_cents('member_revenue') ~ ' * nonmember_paid_orders - '
                ~ amount_in_cents('nonmember_revenue') ~ ' * member_paid_orders',
            amount_in_cents('nonmember_revenue') ~ ' * member_paid_orders', 4) }} end as aov_lift,
        {{ exact_rate('member_paid_orders', 'member_customers') }} as orders_per_customer_member,
        {{ exact_rate('nonmember_paid_orders', 'nonmember_customers') }} as orders_per_customer_nonmember
    from unioned

)

select * from final
