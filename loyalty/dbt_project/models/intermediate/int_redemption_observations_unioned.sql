{{ config(materialized='incremental', unique_key='observation_key', on_schema_change='append_new_columns') }}
-- Every sighting of a redemption or rollback, from every channel, one row per (object, delivery):
-- webhooks (deduplicated on event id + webhook source id), API pulls, exports and Segment Event Cloud.
-- The same redemption seen through several channels stays several rows here; int_redemptions_status_derived
-- folds them into one.
with

webhooks as (

    select
        redemption_id, object_type, parent_redemption_id, redeemed_at, result, status_as_sent,
        failure_code, failure_message, customer_id, customer_source_id, campaign_name, campaign_id,
        promotion_tier_id, voucher_code, order_id, applied_discount_amount, order_location_id,
        redemption_location_id, channel_type, related_object_type, related_rollbacks_count, related_rollback_at,
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
        failure_code, failure_message, customer_id, customer_source_id, campaign_name, campaign_id,
        promotion_tier_id, voucher_code, order_id, applied_discount_amount, order_location_id,
        redemption_location_id, channel_type, related_object_type, related_rollbacks_count, related_rollback_at,
        'api' as observed_via,
        2 as observed_via_rank,
        'api:' || redemption_id || ':' || _file || ':' || cast(_line as {{ type_text() }}) as observation_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__api_redemptions') }}
    where {{ ingested_since_watermark() }}

),

exports as (

    select
        redemption_id, object_type, null as parent_redemption_id, redeemed_at, result, status_as_sent,
        failure_code, failure_message, customer_id, customer_source_id, campaign_name, null as campaign_id,
        promotion_tier_id, voucher_code, order_id, null as applied_discount_amount, null as order_location_id,
        redemption_location_id, null as channel_type, null as related_object_type, 0 as related_rollbacks_count,
        null as related_rollback_at,
        'export' as observed_via,
        3 as observed_via_rank,
        'export:' || redemption_id || ':' || _file || ':' || cast(_line as {{ type_text() }}) as observation_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__export_redemptions') }}
    where {{ ingested_since_watermark() }}

),

{%- set cloud = var('segment_event_cloud_events') %}
{%- set redemption_events = cloud.redemption_succeeded + cloud.redemption_failed %}
{%- set rollback_events = cloud.rollback_succeeded + cloud.rollback_failed %}

event_cloud as (

    select * from {{ ref('int_segment_events_identified') }}
    where {{ ingested_since_watermark() }}
        and event_slug in {{ sql_list(redemption_events + rollback_events) }}

),

-- Voucherify's Segment source, both generations (macros/event_cloud.sql). A rollback event is a sighting of
-- the rolled-back redemption (with its new status) and of the rollback itself.
event_cloud_redemptions as (

    select
        {{ event_cloud_text('redemption_id', 'redemption') }} as redemption_id,
        'redemption' as object_type,
        {{ event_cloud_text('redemption_redemption', 'redemption') }} as parent_redemption_id,
        {{ to_utc_timestamp(event_cloud_text('redemption_date', 'redemption')) }} as redeemed_at,
        upper(coalesce(
            {{ event_cloud_text('redemption_result', 'redemption') }},
            case when event_slug in {{ sql_list(cloud.redemption_failed) }} then 'FAILURE'
                when event_slug in {{ sql_list(cloud.redemption_succeeded) }} then 'SUCCESS'
            end
        )) as result,
        case when event_slug in {{ sql_list(cloud.rollback_succeeded) }} then 'ROLLED_BACK'
            else {{ event_cloud_text('redemption_status', 'redemption') }}
        end as status_as_sent,
        {{ event_cloud_text('redemption_failure_code', 'redemption') }} as failure_code,
        {{ event_cloud_text('redemption_failure_message', 'redemption') }} as failure_message,
        {{ event_cloud_first(['redemption_customer_id', 'customer_id'], 'redemption') }} as customer_id,
        coalesce(
            {{ event_cloud_first(['redemption_customer_source_id', 'customer_source_id'], 'redemption') }},
            customer_source_id
        ) as customer_source_id,
        {{ event_cloud_first([
            'redemption_voucher_campaign', 'voucher_campaign', 'redemption_promotion_tier_campaign_name',
            'promotion_tier_campaign_name', 'campaign_name'
        ], 'redemption') }}
            as campaign_name,
        {{ event_cloud_first([
            'redemption_voucher_campaign_id', 'voucher_campaign_id', 'redemption_promotion_tier_campaign_id',
            'promotion_tier_campaign_id', 'promotion_tier_campaign_id', 'campaign_id'
        ], 'redemption') }}
            as campaign_id,
        {{ event_cloud_first(['redemption_promotion_tier_id', 'promotion_tier_id'], 'redemption') }}
            as promotion_tier_id,
        {{ event_cloud_first(['redemption_voucher_code', 'voucher_code'], 'redemption') }} as voucher_code,
        {{ event_cloud_first(['redemption_order_id', 'order_id'], 'redemption') }} as order_id,
        {{ event_cloud_applied_discount() }} as applied_discount_amount,
        coalesce(
            {{ text_or_first_element(event_cloud_first(
                ['redemption_order_metadata_location_id', 'order_metadata_location_id'], 'redemption'
            )) }},
            {{ text_or_first_element(event_cloud_first(
                ['redemption_order_metadata_location', 'order_metadata_location'], 'redemption'
            )) }}
        ) as order_location_id,
        coalesce(
            {{ text_or_first_element(event_cloud_text('redemption_metadata_location_id', 'redemption')) }},
            {{ text_or_first_element(event_cloud_text('redemption_metadata_location', 'redemption')) }},
            nullif(trim({{ event_cloud_text('redemption_metadata_redemption_location_city', 'redemption') }}), '')
        ) as redemption_location_id,
        {{ event_cloud_text('redemption_channel_channel_type', 'redemption') }} as channel_type,
        {{ event_cloud_text('redemption_related_object_type', 'redemption') }} as related_object_type,
        0 as related_rollbacks_count,
        null as related_rollback_at,
        'segment' as observed_via,
        4 as observed_via_rank,
        'segment:' || {{ event_cloud_text('redemption_id', 'redemption') }} || ':' || message_id as observation_key,
        null as _file, null as _line, null as _batch_id, _ingested_at
    from event_cloud

    union all

    select
        {{ event_cloud_text('redemption_rollback_id') }},
        'redemption_rollback',
        coalesce(
            {{ event_cloud_text('redemption_rollback_redemption') }},
            {{ event_cloud_text('redemption_id', 'redemption') }}
        ),
        {{ to_utc_timestamp(event_cloud_text('redemption_rollback_date')) }},
        upper(coalesce(
            {{ event_cloud_text('redemption_rollback_result') }},
            case when event_slug in {{ sql_list(cloud.rollback_succeeded) }} then 'SUCCESS' else 'FAILURE' end
        )),
        {{ event_cloud_text('redemption_rollback_status') }},
        {{ event_cloud_text('redemption_rollback_failure_code') }},
        {{ event_cloud_text('redemption_rollback_failure_message') }},
        null, customer_source_id, null, null, null, null, null, null, null, null, null, null, 0, null,
        'segment', 4,
        'segment:' || {{ event_cloud_text('redemption_rollback_id') }} || ':' || message_id,
        null, null, null, _ingested_at
    from event_cloud
    where event_slug in {{ sql_list(rollback_events) }}

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
        coalesce(
            object_type,
            case when redemption_id like 'rr%' then 'redemption_rollback' else 'redemption' end
        ) as object_type,
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
        campaign_id,
        promotion_tier_id,
        voucher_code,
        order_id,
        applied_discount_amount,
        order_location_id,
        redemption_location_id,
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
    qualify row_number() over (partition by observation_key order by {{ nulls_last('_ingested_at, _file, _line') }}) = 1

)

select * from final
where {{ not_yet_loaded('observation_key') }}
