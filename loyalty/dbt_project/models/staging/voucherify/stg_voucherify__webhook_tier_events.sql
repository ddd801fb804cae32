-- Loyalty tier changes (distribution webhooks customer.loyalty.tier.joined|upgraded|downgraded|prolonged|left).
with

deliveries as (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}
    where event_type like 'customer.loyalty.tier.%'

),

renamed as (

    select
        event_id,
        replace(event_type, 'customer.loyalty.tier.', '') as tier_change,
        {{ json_text('data', 'customer.id') }} as customer_id,
        {{ json_text('data', 'customer.source_id') }} as customer_source_id,
        coalesce(
            {{ json_text('data', 'campaign.id') }},
            {{ json_text('data', 'loyalty_tier.campaign_id') }},
            {{ json_text('data', 'loyalty_tier_to.campaign_id') }}
        ) as campaign_id,
        coalesce({{ json_text('data', 'loyalty_tier_to.id') }}, {{ json_text('data', 'loyalty_tier.id') }}) as tier_id,
        coalesce(
            {{ json_text('data', 'loyalty_tier_to.name') }}, {{ json_text('data', 'loyalty_tier.name') }}
        ) as tier_name,
        -- Only upgrades and downgrades name the tier they came from.
        {{ json_text('data', 'loyalty_tier_from.name') }} as tier_from_name,
        coalesce({{ to_utc_timestamp(json_text('data', 'created_at')) }}, event_created_at) as occurred_at,
        webhook_source_id,
        event_created_at,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from deliveries

)

select * from renamed
