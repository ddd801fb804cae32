-- Loyalty tier movements: one row per tier event (customer.loyalty.tier.*), however many times it was delivered.
-- `joined` has no tier_from, `left` no tier_to, `prolonged` keeps its tier (from = to).
with

tier_events as (

    select * from {{ ref('stg_voucherify__webhook_tier_events') }}

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

-- Redeliveries repeat the event id with a new delivery id: keep one copy per event.
deduped as (

    select *
    from tier_events
    where event_id is not null
    qualify row_number() over (partition by event_id order by _ingested_at, _file, _line) = 1

),

identified as (

    select
        deduped.event_id as tier_event_id,
        coalesce(deduped.customer_source_id, customers.customer_source_id) as customer_source_id,
        deduped.occurred_at as changed_at,
        deduped.tier_change as change_type,
        deduped.tier_name,
        deduped.tier_from_name,
        deduped.campaign_id
    from deduped
    left join customers
        on deduped.customer_id = customers.customer_id

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
                partition by customer_source_id order by changed_at, tier_event_id))
        end as tier_from,
        case when change_type = 'left' then null else tier_name end as tier_to,
        campaign_id
    from identified

)

select * from final
