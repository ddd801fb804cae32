{{ config(materialized='incremental', on_schema_change='append_new_columns') }}
-- One row per loyalty tier event however many times it was delivered (the earliest copy), so the tier
-- models read this small table instead of parsing every webhook payload again on each run.
-- Incremental: new deliveries of events not held yet; a redelivery of a held event changes nothing,
-- exactly as a full refresh keeps the earliest copy.
with

tier_events as (

    select * from {{ ref('stg_voucherify__webhook_tier_events') }}
    where event_id is not null
        and {{ ingested_since_watermark() }}
        and {{ not_yet_loaded('event_id') }}

),

final as (

    select
        event_id,
        tier_change,
        customer_id,
        customer_source_id,
        campaign_id,
        tier_id,
        tier_name,
        tier_from_name,
        occurred_at,
        webhook_source_id,
        _file,
        _line,
        _batch_id,
        _ingested_at
    from tier_events
    qualify row_number() over (partition by event_id order by {{ nulls_last('_ingested_at, _file, _line') }}) = 1

)

select * from final
