{{ config(materialized='incremental', unique_key='sighting_key', on_schema_change='append_new_columns') }}
-- Every sighting of an engagement event (fct_engagement_events): webhooks and Voucherify's Segment Event Cloud in
-- both generations, each with the event's natural key (`event_key`). Incremental: new deliveries and messages only.
{%- set cloud = var('segment_event_cloud_events') %}
with

webhooks as (

    select
        case
            when event_type = 'customer.rewarded.loyalty_points' then 'points_rewarded'
            when event_type = 'customer.rewarded' then 'rewarded'
            when event_type like 'customer.reward_redemptions.%' then 'reward_redemption'
            when event_type = 'customer.validation.succeeded' then 'validation_succeeded'
            else 'validation_failed'
        end as event_kind,
        -- a validation's own time (the Event Cloud copy is sent later), else the event's
        coalesce(validated_at, event_created_at) as occurred_at,
        customer_source_id, customer_id, campaign_name, voucher_id, voucher_code, order_id, points, earning_rule_id,
        trigger_event_id, reward_id, reward_name, reward_redemption_id,
        case when event_type like 'customer.reward_redemptions.%' then coalesce(
                    reward_redemption_state,
                    upper(replace(event_type, 'customer.reward_redemptions.', ''))
                )
        end as reward_redemption_state,
        redemption_id, validation_id,
        1 as source_rank,
        'webhook:' || event_id as sighting_key,
        _ingested_at
    from {{ ref('stg_voucherify__webhook_engagement_events') }}
    where {{ ingested_since_watermark() }}

),

{%- set kinds = {
    'points_rewarded': cloud.points_rewarded, 'rewarded': cloud.rewarded,
    'validation_succeeded': cloud.validation_succeeded, 'validation_failed': cloud.validation_failed,
    'reward_redemption': cloud.reward_redemption_created + cloud.reward_redemption_completed} %}

event_cloud as (

    select
        case
            {%- for kind, slugs in kinds.items() %}
            when event_slug in {{ sql_list(slugs) }} then '{{ kind }}'
            {%- endfor %}
        end as event_kind,
        coalesce(
            {{ to_utc_timestamp(event_cloud_text('validation_created_at')) }},
            {{ to_utc_timestamp(json_text('properties', 'voucherify_event_created_at')) }}, occurred_at
        ) as occurred_at,
        coalesce({{ event_cloud_first(['customer_source_id', 'holder_source_id']) }}, customer_source_id)
            as customer_source_id,
        {{ event_cloud_first(['customer_id', 'holder_id']) }} as customer_id,
        {{ event_cloud_first(['campaign_name', 'voucher_campaign']) }} as campaign_name,
        {{ event_cloud_text('voucher_id') }} as voucher_id,
        coalesce(
            {{ event_cloud_first(['voucher_code', 'validation_code']) }},
            {{ first_element_field(event_cloud_text('validation_redeemables'), 'id') }},
            {{ first_element_field(event_cloud_text('validation_inapplicable_redeemables'), 'id') }},
            {{ first_element_field(event_cloud_text('validation_skipped_redeemables'), 'id') }}
        ) as voucher_code,
        {{ event_cloud_first(['order_id', 'redemption_order_id']) }} as order_id,
        {{ dbt.safe_cast(event_cloud_text('balance_points'), dbt.type_bigint()) }} as points,
        {{ event_cloud_text('earning_rule_id') }} as earning_rule_id,
        {{ event_cloud_text('event_id') }} as trigger_event_id,
        {{ event_cloud_text('reward_id') }} as reward_id,
        {{ event_cloud_text('reward_name') }} as reward_name,
        {{ event_cloud_text('reward_redemption_id') }} as reward_redemption_id,
        case
            when event_slug in {{ sql_list(cloud.reward_redemption_created + cloud.reward_redemption_completed) }}
                then upper(coalesce(
                        {{ event_cloud_text('reward_redemption_state') }},
                        case
                            when
                                event_slug in {{ sql_list(cloud.reward_redemption_completed) }}
                                then 'COMPLETED'
                            else 'CREATED'
                        end
                    ))
        end as reward_redemption_state,
        {{ event_cloud_text('redemption_id') }} as redemption_id,
        {{ event_cloud_text('validation_id') }} as validation_id,
        2 as source_rank,
        'segment:' || message_id as sighting_key,
        _ingested_at
    from {{ ref('int_segment_events_identified') }}
    where event_slug in {{ sql_list(kinds.values() | sum(start=[])) }}
        and {{ ingested_since_watermark() }}

),

unioned as (

    select * from webhooks
    union all
    select * from event_cloud

),

keyed as (

    select
        *,
        event_kind || ':' || case event_kind
            -- the same award seen through both channels: the rule, the card and the order (else the trigger)
            when 'points_rewarded'
                then coalesce(earning_rule_id, '') || ':' || coalesce(voucher_id, '') || ':'
                    || coalesce(order_id, trigger_event_id, {{ timestamp_text('occurred_at') }})
            when 'rewarded' then coalesce(redemption_id, '') || ':' || coalesce(reward_id, sighting_key)
            when 'reward_redemption' then coalesce(reward_redemption_id, sighting_key)
            else coalesce(validation_id, sighting_key)
        end as event_key
    from unioned
    where event_kind is not null

)

select * from keyed
where {{ not_yet_loaded('sighting_key') }}
-- a delivery seen twice (redelivered, or through another webhook): keep the first
qualify row_number() over (partition by sighting_key order by {{ nulls_last('_ingested_at') }}) = 1
