{{ config(materialized='incremental', unique_key='observation_key', on_schema_change='append_new_columns') }}
-- Every object that names a campaign or a promotion tier together with the campaign's name or id: campaign
-- objects and promotion tiers in webhooks, vouchers, redemptions (exports name a promotion tier's campaign by
-- name only, API redemptions by id only) and Voucherify's Event Cloud. Incremental.
with

webhook_campaigns as (

    select
        campaign_id, promotion_tier_id, campaign_name, event_created_at as seen_at,
        'webhook:'
        || coalesce(campaign_id, '')
        || ':'
        || coalesce(promotion_tier_id, '')
        || ':'
        || event_id as observation_key,
        _ingested_at
    from {{ ref('stg_voucherify__webhook_campaigns') }}
    where {{ ingested_since_watermark() }}

),

voucher_campaigns as (

    select
        campaign_id, null as promotion_tier_id, campaign_name, seen_at,
        'voucher:' || observation_key as observation_key,
        _ingested_at
    from {{ ref('int_voucher_observations_unioned') }}
    where campaign_id is not null and campaign_name is not null
        and {{ ingested_since_watermark() }}

),

redemption_campaigns as (

    select
        campaign_id, promotion_tier_id, campaign_name, redeemed_at as seen_at,
        'redemption:' || observation_key as observation_key,
        _ingested_at
    from {{ ref('int_redemption_observations_unioned') }}
    where campaign_name is not null and (campaign_id is not null or promotion_tier_id is not null)
        and {{ ingested_since_watermark() }}

),

unioned as (

    select * from webhook_campaigns
    union all
    select * from voucher_campaigns
    union all
    select * from redemption_campaigns

),

final as (

    select * from unioned
    where campaign_id is not null or promotion_tier_id is not null
    qualify row_number() over (partition by observation_key order by {{ nulls_last('_ingested_at') }}) = 1

)

select * from final
where {{ not_yet_loaded('observation_key') }}
