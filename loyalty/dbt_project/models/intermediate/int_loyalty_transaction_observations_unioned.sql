{{ config(materialized='incremental', unique_key='observation_key', on_schema_change='append_new_columns') }}
-- Every sighting of a loyalty transaction: webhooks (transaction.created and the transaction inside
-- points_added / points_expired / pending_points.activated), API pulls and voucher_transactions exports.
with

webhooks as (

    select
        transaction_id, transaction_type, voucher_id, campaign_id, customer_id, customer_source_id,
        points, balance_after, order_id, earning_rule_id, earning_rule_name, reward_id, reward_name, occurred_at,
        'webhook' as observed_via,
        1 as observed_via_rank,
        'webhook:' || transaction_id || ':' || event_id || ':' || coalesce(webhook_source_id, '') as observation_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__webhook_loyalty_transactions') }}
    where {{ ingested_since_watermark() }}

),

api as (

    select
        transaction_id, transaction_type, voucher_id, campaign_id, customer_id, customer_source_id,
        points, balance_after, order_id, earning_rule_id, earning_rule_name, reward_id, reward_name, occurred_at,
        'api' as observed_via,
        2 as observed_via_rank,
        'api:' || transaction_id || ':' || _file || ':' || cast(_line as {{ type_text() }}) as observation_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__api_loyalty_transactions') }}
    where {{ ingested_since_watermark() }}

),

exports as (

    select
        transaction_id, transaction_type, voucher_id, campaign_id, null as customer_id, null as customer_source_id,
        points, balance_after, order_id, earning_rule_id, earning_rule_name, reward_id, reward_name, occurred_at,
        'export' as observed_via,
        3 as observed_via_rank,
        'export:' || transaction_id || ':' || _file || ':' || cast(_line as {{ type_text() }}) as observation_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__export_loyalty_transactions') }}
    where {{ ingested_since_watermark() }}

),

unioned as (

    select * from webhooks
    union all
    select * from api
    union all
    select * from exports

),

final as (

    select * from unioned
    where transaction_id is not null
    qualify row_number() over (partition by observation_key order by {{ nulls_last('_ingested_at, _file, _line') }}) = 1

)

select * from final
where {{ not_yet_loaded('observation_key') }}
