{{ config(materialized='incremental', unique_key='observation_key', on_schema_change='append_new_columns') }}
-- Every sighting of a redemption or rollback, from every channel, one row per (object, delivery):
-- webhooks (deduplicated on event id + webhook source id), API pulls, exports and Segment Event Cloud.
-- The same redemption seen through several channels stays several rows here; int_redemptions_status_derived
-- folds them into one.
with

webhooks as (

    select
        redemption_id, object_type, parent_redemption_id, redeemed_at, result, status_as_sent,
        failure_code, failure_message, customer_id, customer_source_id, campaign_name, voucher_code,
        order_id, order_applied_discount_amount, order_discount_amount, channel_type,
        related_object_type, related_rollbacks_count, related_rollback_at,
        'webhook' as observed_via,
        1 as observed_via_rank,
        'webhook:' || redemption_id || ':' || event_id || ':' || coalesce(webhook_source_id, '') as observation_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__webhook_redemptions') }}
    where {{ ingested_since_watermark() }}

),

api as (

    select
        redemption_id, object_type, parent_redemption_id, redeemed_at, result, status_as_sent,
        failure_code, failure_message, customer_id, customer_source_id, campaign_name, voucher_code,
        order_id, order_applied_discount_amount, order_discount_amount, channel_type,
        related_object_type, related_rollbacks_count, related_rollback_at,
        'api' as observed_via,
        2 as observed_via_rank,
        'api:' || redemption_id || ':' || _file || ':' || cast(_line as varchar) as observation_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__api_redemptions') }}
    where {{ ingested_since_watermark() }}

),

exports as (

    select
        redemption_id, object_type, null as parent_redemption_id, redeemed_at, result, status_as_sent,
        failure_code, failure_message, customer_id, customer_source_id, campaign_name, voucher_code,
        order_id, null as order_applied_discount_amount, null as order_discount_amount, null as channel_type,
        null as related_object_type, 0 as related_rollbacks_count, null as related_rollback_at,
        'export' as observed_via,
        3 as observed_via_rank,
        'export:' || redemption_id || ':' || _file || ':' || cast(_line as varchar) as observation_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__export_redemptions') }}
    where {{ ingested_since_watermark() }}

),

{%- set cloud = var('segment_event_cloud_events') %}

event_cloud as (

    select * from {{ ref('int_segment_events_identified') }}
    where {{ ingested_since_watermark() }}
      and event_slug in {{ sql_list(cloud.redemption_succeeded + cloud.redemption_failed + cloud.rollback_succeeded) }}

),

event_cloud_redemptions as (

    -- Voucherify's Segment source: flattened properties (redemption_id, order_id, voucher_code, …)
    select
        {{ json_text('properties', 'redemption_id') }} as redemption_id,
        'redemption' as object_type,
        null as parent_redemption_id,
        {{ to_utc_timestamp(json_text('properties', 'redemption_date')) }} as redeemed_at,
        upper(coalesce({{ json_text('properties', 'redemption_result') }},
            case when event_slug in {{ sql_list(cloud.redemption_failed) }} then 'FAILURE' else 'SUCCESS' end)) as result,
        case when event_slug in {{ sql_list(cloud.rollback_succeeded) }} then 'ROLLED_BACK'
             else {{ json_text('properties', 'redemption_status') }} end as status_as_sent,
        {{ json_text('properties', 'redemption_failure_code') }} as failure_code,
        {{ json_text('properties', 'redemption_failure_message') }} as failure_message,
        {{ json_text('properties', 'customer_id') }} as customer_id,
        coalesce({{ json_text('properties', 'customer_source_id') }}, customer_source_id) as customer_source_id,
        {{ json_text('properties', 'campaign_name') }} as campaign_name,
        {{ json_text('properties', 'voucher_code') }} as voucher_code,
        {{ json_text('properties', 'order_id') }} as order_id,
        null as order_applied_discount_amount,
        null as order_discount_amount,
        null as channel_type,
        null as related_object_type,
        0 as related_rollbacks_count,
        null as related_rollback_at,
        'segment' as observed_via,
        4 as observed_via_rank,
        'segment:' || {{ json_text('properties', 'redemption_id') }} || ':' || message_id as observation_key,
        null as _file, null as _line, null as _batch_id, _ingested_at
    -- a rollback event counts as a sighting of the rolled-back redemption, with its new status
    from event_cloud

),

unioned as (

    select * from webhooks
    union all
    select * from api
    union all
    select * from exports
    union all
    select * from event_cloud_redemptions

),

final as (

    select
        redemption_id,
        coalesce(object_type,
            case when redemption_id like 'rr%' then 'redemption_rollback' else 'redemption' end) as object_type,
        parent_redemption_id,
        redeemed_at,
        result,
        -- the vendor spec spells one status with a space
        upper(replace(status_as_sent, ' ', '_')) as status_as_sent,
        failure_code,
        failure_message,
        customer_id,
        customer_source_id,
        campaign_name,
        voucher_code,
        order_id,
        order_applied_discount_amount,
        order_discount_amount,
        channel_type,
        related_object_type,
        related_rollbacks_count,
        related_rollback_at,
        observed_via,
        observed_via_rank,
        observation_key,
        _file,
        _line,
        _batch_id,
        _ingested_at
    from unioned
    where redemption_id is not null
    -- a delivery seen twice (same event, same webhook) or a file re-read in the look-back window: keep the first
    qualify row_number() over (partition by observation_key order by _ingested_at, _file, _line) = 1

)

select * from final
where {{ not_yet_loaded('observation_key') }}
