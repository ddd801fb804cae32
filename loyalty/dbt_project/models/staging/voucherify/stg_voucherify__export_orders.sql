-- Rows of Exports API `order` downloads; one `metadata.<key>` column per metadata key. Money in cents.
with

source as (

    select * from {{ source('voucherify', 'voucherify_exports') }}
    where exported_object = 'order'

),

renamed as (

    select
        {{ json_text('record', 'id') }} as order_id,
        nullif({{ json_text('record', 'source_id') }}, '') as order_source_id,
        upper(nullif({{ json_text('record', 'status') }}, '')) as status,
        nullif({{ json_text('record', 'customer_id') }}, '') as customer_id,
        {{ cents_to_amount(json_text('record', 'amount')) }} as amount,
        {{ order_discount(
            cents_to_amount("nullif(" ~ json_text('record', 'total_discount_amount') ~ ", '')"),
            cents_to_amount("nullif(" ~ json_text('record', 'discount_amount') ~ ", '')"),
            cents_to_amount("nullif(" ~ json_text('record', 'items_discount_amount') ~ ", '')")) }} as total_discount_amount,
        {{ cents_to_amount("nullif(" ~ json_text('record', 'total_amount') ~ ", '')") }} as total_amount,
        nullif(trim({{ json_text('record', '"metadata.location_id"') }}), '') as metadata_location_id,
        nullif(trim({{ json_text('record', '"metadata.location"') }}), '') as metadata_location,
        -- headers are lower-cased by ingest: metadata.originOrderId arrives as metadata.originorderid
        nullif(trim(coalesce(
            {{ json_text('record', '"metadata.originorderid"') }},
            {{ json_text('record', '"metadata.origin_order_id"') }}
        )), '') as origin_order_id,
        {{ to_utc_timestamp(json_text('record', 'created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text('record', 'updated_at')) }} as updated_at,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source

)

select * from renamed
