{{ config(materialized='incremental', unique_key='reward_id', on_schema_change='append_new_columns',
          incremental_strategy=recompute_strategy(), partition_by=key_bucket_partition()) }}
-- One row per reward (rew_…) a redemption or reward event described, from webhooks, API pulls and Voucherify's
-- Segment Event Cloud (both generations): its name, type and, for pay with points (COIN), the exchange ratio.
-- Each attribute is the latest one described (by the describing event's time, then its key), so a reward whose
-- ratio changes is valued as it stands now. Incremental: new sightings, merged with what the row already says.
{%- set cloud = var('segment_event_cloud_events') %}
with

sightings as (

    select reward_id, reward_name, reward_type, exchange_ratio, points_ratio, seen_at, sighting_key, _ingested_at
    from {{ ref('stg_voucherify__rewards') }}
    where {{ ingested_since_watermark('_ingested_at', 'last_ingested_at') }}

    union all

    select
        {{ event_cloud_first(['redemption_reward_id', 'reward_id'], 'redemption') }},
        {{ event_cloud_first(['redemption_reward_name', 'reward_name'], 'redemption') }},
        upper({{ event_cloud_first(['redemption_reward_type', 'reward_type'], 'redemption') }}),
        {{ dbt.safe_cast(event_cloud_first(['redemption_reward_parameters_coin_exchange_ratio',
            'reward_parameters_coin_exchange_ratio'], 'redemption'), 'decimal(18,6)') }},
        {{ dbt.safe_cast(event_cloud_first(['redemption_reward_parameters_coin_points_ratio',
            'reward_parameters_coin_points_ratio'], 'redemption'), 'decimal(18,6)') }},
        occurred_at,
        'segment:' || message_id,
        _ingested_at
    from {{ ref('int_segment_events_identified') }}
    where event_slug in {{ sql_list(cloud.redemption_succeeded + cloud.rollback_succeeded + cloud.rewarded
                                    + cloud.reward_redemption_created + cloud.reward_redemption_completed) }}
        and {{ ingested_since_watermark('_ingested_at', 'last_ingested_at') }}

    {% if is_incremental() %}
    union all

    -- what each reward already says, as one more sighting
    select
        reward_id, reward_name, reward_type, exchange_ratio, points_ratio, last_seen_at, last_sighting_key,
        last_ingested_at
    from {{ this }}
    {% endif %}

),

{%- set latest = "seen_at desc, sighting_key desc" %}

final as (

    select
        reward_id,
        {{ first_not_null('reward_name', latest) }} as reward_name,
        {{ first_not_null('reward_type', latest) }} as reward_type,
        {{ first_not_null('exchange_ratio', latest) }} as exchange_ratio,
        {{ first_not_null('points_ratio', latest) }} as points_ratio,
        max(seen_at) as last_seen_at,
        max(sighting_key) as last_sighting_key,
        max(_ingested_at) as last_ingested_at
    from sightings
    where reward_id is not null
    group by reward_id

)

{{ recomputed_rows('final', 'reward_id') }}
