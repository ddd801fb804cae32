-- Campaign names as webhooks carry them: the event's campaign object and promotion tiers (whose own `campaign`
-- may hold only an id). One row per campaign or promotion tier object per delivery.
with

-- Not materialized: several branches read it, and a materialized CTE would stop an incremental model's
-- `_ingested_at` filter from reaching the raw table, so every run would parse every delivery again.
-- Only the events that can name a campaign no voucher names: campaign and promotion-tier events, redemptions
-- (promotion tiers) and publications; loyalty events repeat the program's name, which its cards carry anyway.
deliveries {{ as_not_materialized() }} (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}
    where event_type like 'campaign.%'
        or event_type like '%redemption%'
        or event_type like '%publication%'
        or event_type = 'voucher.published'

),

campaign_objects as (

    select
        deliveries.*, {{ json_value('data', 'campaign') }} as doc, cast(null as {{ type_text() }}) as promotion_tier_id
    from deliveries where envelope = 'v2024'
    union all
    select
        deliveries.*, {{ json_value('data', 'promotion_tier.campaign') }}, {{ json_text('data', 'promotion_tier.id') }}
    from deliveries where envelope = 'v2024'
    union all
    select
        deliveries.*, {{ json_value('data', 'redemption.promotion_tier.campaign') }},
        {{ json_text('data', 'redemption.promotion_tier.id') }}
    from deliveries where envelope = 'v2024'
    union all
    select
        deliveries.*,
        case when data_object_type = 'campaign' then data_object else {{ json_value('data_object', 'campaign') }} end,
        cast(null as {{ type_text() }})
    from deliveries where envelope = 'v2018'
    union all
    select
        deliveries.*, {{ json_value('data_object', 'promotion_tier.campaign') }},
        {{ json_text('data_object', 'promotion_tier.id') }}
    from deliveries where envelope = 'v2018'

),

renamed as (

    select
        {{ json_text('doc', 'id') }} as campaign_id,
        promotion_tier_id,
        nullif(trim({{ json_text('doc', 'name') }}), '') as campaign_name,
        event_id,
        event_created_at,
        _batch_id,
        _ingested_at

    from campaign_objects
    where {{ json_text('doc', 'id') }} is not null or promotion_tier_id is not null

)

select * from renamed
