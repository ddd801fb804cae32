-- Loyalty tier movements: one row per tier event (customer.loyalty.tier.*), however many times it was delivered.
-- `joined` has no tier_from, `left` no tier_to, `prolonged` keeps its tier (from = to).
with

tier_events as (

    select * from {{ ref('int_tier_events_deduped') }}

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

identified as (

    select
        tier_events.event_id as tier_event_id,
        coalesce(tier_events.customer_source_id, customers.customer_source_id) as customer_source_id,
        tier_events.occurred_at as changed_at,
        tier_events.tier_change as change_type,
        tier_events.tier_name,
        tier_events.tier_from_name,
        tier_events.campaign_id
    from tier_events
    left join customers
        on tier_events.customer_id = customers.customer_id

),

final as (

    select
        tier_event_id,
        customer_source_id,
        changed_at,
        change_type,
        case change_type
            when 'joined' then null
            when 'left' then tier_name
            when 'prolonged' then tier_name
            -- An upgrade or downgrade names its origin; without it, the tier the previous event left them in.
            else coalesce(tier_from_name, lag(case when change_type <> 'left' then tier_name end) over (
                    partition by customer_source_id order by {{ nulls_last('changed_at, tier_event_id') }}
                ))
        end as tier_from,
        case when change_type = 'left' then null else tier_name end as tier_to,
        campaign_id
    from identified

)

select * from final
