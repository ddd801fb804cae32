-- One row per member (customer_source_id of a loyalty-card holder): profile (Voucherify's customer and the
-- traits the apps send with Segment identify), points, paid-order history, first redemption, orders before and
-- after joining, RFM scores and segment (macros/economics.sql), and the computed traits of
-- macros/member_traits.sql. A product trait counts an order line whether it names the product by SKU, product
-- id or product name: an id or name seen on any order line together with the SKU stands for that product.
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

profile_traits as (

    select * from {{ ref('int_segment_traits_latest') }}

),

ledger as (

    select
        customer_source_id,
        cast(sum(points) as {{ dbt.type_bigint() }}) as points_balance,
        cast(sum(case when movement = 'earned' then points else 0 end) as {{ dbt.type_bigint() }})
            as lifetime_points_earned,
        cast(-sum(case when movement = 'burned' then points else 0 end) as {{ dbt.type_bigint() }})
            as lifetime_points_burned,
        cast(-sum(case when movement = 'expired' then points else 0 end) as {{ dbt.type_bigint() }})
            as lifetime_points_expired,
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

data_days as (

    select * from {{ ref('int_data_days') }}

),

first_burns as (

    select customer_source_id, min(occurred_at) as first_redemption_at
    from {{ ref('fct_loyalty_points') }}
    where movement = 'burned'
    group by customer_source_id

),

-- before and after joining: paid orders in the 180 days before the sign-up day (from the data's first day at the
-- earliest) and after it up to the data's last day; the sign-up day's own orders are in neither
joining as (

    select
        members.customer_source_id,
        {{ utc_day('members.joined_at') }} as joined_day,
        case
            when cast({{ dbt.dateadd('day', -180, utc_day('members.joined_at')) }} as date) > data_days.first_day
                then cast({{ dbt.dateadd('day', -180, utc_day('members.joined_at')) }} as date)
            else data_days.first_day
        end as before_from_day,
        data_days.last_day
    from members
    cross join data_days
    where members.joined_at is not null

),

around_joining as (

    select
        joining.customer_source_id,
        {{ dbt.datediff('joining.before_from_day', 'joining.joined_day', 'day') }} as days_before,
        {{ dbt.datediff('joining.joined_day', 'joining.last_day', 'day') }} as days_after,
        sum(case when {{ utc_day('orders.ordered_at') }} < joining.joined_day then 1 else 0 end) as orders_before,
        sum(case when {{ utc_day('orders.ordered_at') }} < joining.joined_day then orders.total_amount else 0 end)
            as amount_before,
        sum(case when {{ utc_day('orders.ordered_at') }} > joining.joined_day then 1 else 0 end) as orders_after,
        sum(case when {{ utc_day('orders.ordered_at') }} > joining.joined_day then orders.total_amount else 0 end)
            as amount_after
    from joining
    inner join orders
        on joining.customer_source_id = orders.customer_source_id
            and orders.is_paid
            and {{ utc_day('orders.ordered_at') }} >= joining.before_from_day
    group by joining.customer_source_id, joining.before_from_day, joining.joined_day, joining.last_day
    having sum(case when {{ utc_day('orders.ordered_at') }} < joining.joined_day then 1 else 0 end) > 0

),

-- RFM over the members with a paid order; recency counts days to the data's last day
rfm_base as (

    select
        paid_orders.customer_source_id,
        {{ dbt.datediff(utc_day('paid_orders.last_order_at'), 'data_days.last_day', 'day') }} as recency_days,
        paid_orders.orders_count as frequency,
        cast(paid_orders.lifetime_order_amount as {{ type_money() }}) as monetary
    from paid_orders
    inner join members
        on paid_orders.customer_source_id = members.customer_source_id
    cross join data_days

),

rfm as (

    select
        customer_source_id,
        recency_days,
        {{ quartile_score('rank() over (order by recency_days desc nulls last)', 'count(*) over ()') }} as r_score,
        {{ quartile_score('rank() over (order by frequency asc nulls first)', 'count(*) over ()') }} as f_score,
        {{ quartile_score('rank() over (order by monetary asc nulls first)', 'count(*) over ()') }} as m_score
    from rfm_base

),

paid_lines as (

    select orders.customer_source_id, orders.order_id, items.product_id, items.product_source_id, items.product_name
    from orders
    inner join {{ ref('int_order_items_unnested') }} as items
        on orders.order_id = items.order_id
    where orders.is_paid

),

-- every identifier of a product (SKU, product id, lower-cased name) → all identifiers seen with it on a line
product_aliases as (

    select distinct alias, identifier
    from (
        select alias, {{ unnest_list(list_of(['product_id', 'sku', 'name'])) }} as identifier
        from (
            select product_id, sku, name, {{ unnest_list(list_of(['product_id', 'sku', 'name'])) }} as alias
            from (
                select distinct
                    lower(product_id) as product_id, lower(product_source_id) as sku, lower(product_name) as name
                from {{ ref('int_order_items_unnested') }}
            ) as products
        ) as aliases
    ) as pairs
    where alias is not null and identifier is not null

),

member_metrics as (

    select
        members.customer_source_id,
        coalesce(emails.email, profile_traits.email) as email,
        profile_traits.first_name,
        profile_traits.last_name,
        profile_traits.phone,
        profile_traits.postal_code,
        profile_traits.registered_customer,
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
        greatest(ledger.last_ledger_at, redemptions.last_redemption_at, any_orders.last_any_order_at)
            as last_activity_at,
        members.joined_at,
        first_burns.first_redemption_at,
        {{ dbt.datediff(utc_day('members.joined_at'), utc_day('first_burns.first_redemption_at'), 'day') }}
            as days_to_first_redemption,
        cast(
            {{ exact_ratio(amount_in_cents('around_joining.amount_before'), '100 * around_joining.orders_before', 2) }}
            as {{ type_money() }}
        ) as avg_basket_before_joining,
        cast(
            {{ exact_ratio(amount_in_cents('around_joining.amount_after'), '100 * around_joining.orders_after', 2) }}
            as {{ type_money() }}
        ) as avg_basket_after_joining,
        {{ exact_rate('30 * around_joining.orders_before', 'around_joining.days_before') }}
            as orders_per_30_days_before_joining,
        {{ exact_rate('30 * around_joining.orders_after', 'around_joining.days_after') }}
            as orders_per_30_days_after_joining,
        rfm.recency_days,
        coalesce(paid_orders.orders_count, 0) as frequency,
        cast(coalesce(paid_orders.lifetime_order_amount, 0) as {{ type_money() }}) as monetary,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        {{ rfm_segment('rfm.r_score', 'rfm.f_score', 'rfm.m_score') }} as rfm_segment
    from members
    left join emails on members.customer_source_id = emails.customer_source_id
    left join tiers on members.customer_source_id = tiers.customer_source_id
    left join profile_traits on members.customer_source_id = profile_traits.customer_source_id
    left join ledger on members.customer_source_id = ledger.customer_source_id
    left join paid_orders on members.customer_source_id = paid_orders.customer_source_id
    left join any_orders on members.customer_source_id = any_orders.customer_source_id
    left join redemptions on members.customer_source_id = redemptions.customer_source_id
    left join first_burns on members.customer_source_id = first_burns.customer_source_id
    left join around_joining on members.customer_source_id = around_joining.customer_source_id
    left join rfm on members.customer_source_id = rfm.customer_source_id

),

final as (

    -- sqlfluff indents the loop's branches differently in each rendering it tries.
    -- noqa: disable=LT02
    select
        member_metrics.*
        {%- for trait in traits %},
        {%- if trait.product is defined %}
        {%- set alias = "lower('" ~ (trait.product | replace("'", "''")) ~ "')" %}
        coalesce((
            select cast(count(distinct lines.order_id) as {{ dbt.type_bigint() }}) from paid_lines as lines
            where lines.customer_source_id = member_metrics.customer_source_id
                and (
                    lower(lines.product_source_id) in (select identifier from product_aliases where alias = {{ alias }})
                    or lower(lines.product_id) in (select identifier from product_aliases where alias = {{ alias }})
                    or lower(lines.product_name) in (select identifier from product_aliases where alias = {{ alias }})
                    or lower(coalesce(lines.product_source_id, lines.product_id, lines.product_name)) = {{ alias }}
                )
        ), 0) as {{ trait.name }}
        {%- else %}
        {{ trait.sql }} as {{ trait.name }}
        {%- endif %}
    {%- endfor %}
    from member_metrics
    -- noqa: enable=LT02

)

select * from final
