{{ config(materialized='incremental', unique_key='transaction_id', on_schema_change='append_new_columns',
          incremental_strategy=recompute_strategy(), partition_by=key_bucket_partition()) }}
-- One row per loyalty transaction id across channels, gift-card credit movements left out, each type
-- mapped onto one movement vocabulary (v1 vtx_ types and loyalty v2 types alike).
-- Incremental: transactions sighted in the look-back window are recomputed from all their sightings.
with

observations as (

    select * from {{ ref('int_loyalty_transaction_observations_unioned') }}
    {% if is_incremental() %}
    where transaction_id in (
            select transaction_id from {{ ref('int_loyalty_transaction_observations_unioned') }}
            where {{ ingested_since_watermark('_ingested_at', 'last_ingested_at') }}
        )
    {% endif %}

),

{%- set first_seen = "observed_via_rank, _ingested_at, _file, _line" %}

merged as (

    select
        transaction_id,
        {{ first_not_null('transaction_type', first_seen) }} as transaction_type,
        {{ first_not_null('occurred_at', first_seen) }} as occurred_at,
        {{ first_not_null('voucher_id', first_seen) }} as voucher_id,
        {{ first_not_null('campaign_id', first_seen) }} as campaign_id,
        {{ first_not_null('customer_id', first_seen) }} as customer_id,
        {{ first_not_null('customer_source_id', first_seen) }} as customer_source_id,
        {{ first_not_null('points', first_seen) }} as points,
        {{ first_not_null('balance_after', first_seen) }} as balance_after,
        {{ first_not_null('order_id', first_seen) }} as order_id,
        {{ first_not_null('earning_rule_id', first_seen) }} as earning_rule_id,
        {{ first_not_null('earning_rule_name', first_seen) }} as earning_rule_name,
        {{ first_not_null('reward_id', first_seen) }} as reward_id,
        {{ first_not_null('reward_name', first_seen) }} as reward_name,
        max(_ingested_at) as last_ingested_at
    from observations
    group by transaction_id

),

final as (

    select
        transaction_id,
        occurred_at,
        transaction_type,
        {{ loyalty_movement('transaction_type') }} as movement,
        case when {{ like_escaped('transaction_id', 'vtx\\_%') }} then 'v1' else 'v2' end as program_version,
        voucher_id,
        campaign_id,
        customer_id,
        customer_source_id,
        points,
        balance_after,
        order_id,
        earning_rule_id,
        earning_rule_name,
        reward_id,
        reward_name,
        last_ingested_at
    from merged
    where not {{ like_escaped("coalesce(transaction_type, '')", 'CREDITS\\_%') }}

)

{{ recomputed_rows('final', 'transaction_id', touched='merged') }}
