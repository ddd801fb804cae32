-- Order snapshots carried by any webhook (order events, and the order inside redemption, loyalty and
-- reward events), one row per order per delivery. Money stays as sent here (cents) only in name:
-- amounts are converted to currency units. The store lives only in order.metadata.
with

deliveries as (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}

),

order_objects as (

    select deliveries.*, {{ json_value('data', 'order') }} as doc
    from deliveries
    where envelope = 'v2024'

    union all

    select deliveries.*,
        case when data_object_type = 'order' then data_object else {{ json_value('data_object', 'order') }} end as doc
    from deliveries
    where envelope = 'v2018'

),

renamed as (

    select
        {{ json_text('doc', 'id') }} as order_id,
        {{ json_text('doc', 'source_id') }} as order_source_id,
        upper({{ json_text('doc', 'status') }}) as status,
        coalesce({{ json_text('doc', 'customer_id') }}, {{ json_text('doc', 'customer.id') }}) as customer_id,
        {{ json_text('doc', 'customer.source_id') }} as customer_source_id,
        {{ cents_to_amount(json_text('doc', 'amount')) }} as amount,
        {{ cents_to_amount(json_text('doc', 'total_discount_amount')) }} as total_discount_amount,
        {{ cents_to_amount(json_text('doc', 'total_amount')) }} as total_amount,
        {{ json_text_or_first('doc', 'metadata.location_id') }} as metadata_location_id,
        {{ json_text_or_first('doc', 'metadata.location') }} as metadata_location,
        {{ json_value('doc', 'items') }} as items,
        {{ to_utc_timestamp(json_text('doc', 'created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text('doc', 'updated_at')) }} as updated_at,
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
