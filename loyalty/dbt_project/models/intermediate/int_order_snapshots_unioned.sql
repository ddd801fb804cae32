{{ config(materialized='incremental', unique_key='snapshot_key', on_schema_change='append_new_columns') }}
-- Every snapshot of an order: order webhooks, order exports, and the order carried inside redemption,
-- loyalty and reward webhooks. Amounts in currency units; a missing discount is 0 and a missing total is
-- amount − discount. `delivered_at` is the time of the event that carried the snapshot (null for exports).
with

webhooks as (

    select
        order_id, status, customer_id, customer_source_id, amount, total_discount_amount, total_amount,
        metadata_location_id, metadata_location, origin_order_id, items, created_at, updated_at,
        event_created_at as delivered_at,
        -- order lifecycle events are the authority on status; an order inside another event is a side copy
        case when event_type like 'customer.order.%' or event_type like 'order.%' then 1 else 3 end as source_rank,
        'webhook:' || order_id || ':' || event_id || ':' || coalesce(webhook_source_id, '') as snapshot_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__webhook_orders') }}
    where {{ ingested_since_watermark() }}

),

exports as (

    select
        order_id, status, customer_id, null as customer_source_id, amount, total_discount_amount, total_amount,
        metadata_location_id, metadata_location, origin_order_id, null as items, created_at, updated_at,
        null as delivered_at,
        2 as source_rank,
        'export:' || order_id || ':' || _file || ':' || cast(_line as {{ type_text() }}) as snapshot_key,
        _file, _line, _batch_id, _ingested_at
    from {{ ref('stg_voucherify__export_orders') }}
    where {{ ingested_since_watermark() }}

),

unioned as (

    select * from webhooks
    union all
    select * from exports

),

final as (

    select
        order_id,
        status,
        customer_id,
        customer_source_id,
        amount,
        coalesce(total_discount_amount, 0) as discount_amount,
        coalesce(total_amount, amount - coalesce(total_discount_amount, 0)) as total_amount,
        metadata_location_id,
        metadata_location,
        origin_order_id,
        items,
        created_at,
        updated_at,
        -- the order's version: updated_at is absent on an order never updated (then it is as created)
        coalesce(updated_at, created_at) as status_as_of,
        delivered_at,
        source_rank,
        snapshot_key,
        _file,
        _line,
        _batch_id,
        _ingested_at
    from unioned
    where order_id is not null
    qualify row_number() over (partition by snapshot_key order by {{ nulls_last('_ingested_at, _file, _line') }}) = 1

)

select * from final
where {{ not_yet_loaded('snapshot_key') }}
