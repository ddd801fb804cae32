-- Loyalty (and gift-card) transactions carried by webhooks: transaction.created and the transaction inside
-- points_added / points_expired / pending_points.activated, one row per transaction per delivery.
-- Events without a transaction (customer.rewarded.loyalty_points, tier events) carry none and add nothing.
with

-- Not materialized: several branches read it, and a materialized CTE would stop an incremental model's
-- `_ingested_at` filter from reaching the raw table, so every run would parse every delivery again.
deliveries {{ as_not_materialized() }} (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}

),

transaction_objects as (

    select deliveries.*, {{ json_value('data', 'transaction') }} as doc, data as context
    from deliveries
    where envelope = 'v2024'

    union all

    select deliveries.*, data_object as doc, data_object as context
    from deliveries
    where envelope = 'v2018'
        and (data_object_type like '%transaction' or {{ like_escaped(json_text('data_object', 'id'), 'vtx\\_%') }})

),

renamed as (

    select
        {{ voucherify_transaction_columns('doc', 'context') }},
        event_id,
        webhook_source_id,
        event_type,
        event_created_at,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from transaction_objects
    where {{ json_text('doc', 'id') }} is not null

)

select * from renamed
