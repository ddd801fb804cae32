-- Order snapshots carried by any webhook (order events, and the order inside redemption, loyalty and
-- reward events), one row per order per delivery.
with

-- Not materialized: several branches read it, and a materialized CTE would stop an incremental model's
-- `_ingested_at` filter from reaching the raw table, so every run would parse every delivery again.
deliveries {{ as_not_materialized() }} (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}

),

order_objects as (

    select deliveries.*, {{ json_value('data', 'order') }} as doc
    from deliveries
    where envelope = 'v2024'

    union all

    select
        deliveries.*,
        case when data_object_type = 'order' then data_object else {{ json_value('data_object', 'order') }} end as doc
    from deliveries
    where envelope = 'v2018'

),

renamed as (

    select
        {{ voucherify_order_columns('doc') }},
        event_id,
        webhook_source_id,
        event_type,
        event_created_at,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from order_objects
    where {{ json_text('doc', 'id') }} is not null

)

select * from renamed
