-- Rows of Exports API `redemption` downloads (headers already normalised by ingest). Money in cents.
with

source as (

    select * from {{ source('voucherify', 'voucherify_exports') }}
    where exported_object = 'redemption'

),

renamed as (

    select
        {{ json_text('record', 'id') }} as redemption_id,
        {{ json_text('record', 'object') }} as object_type,
        {{ to_utc_timestamp(json_text('record', 'date')) }} as redeemed_at,
        nullif({{ json_text('record', 'voucher_code') }}, '') as voucher_code,
        nullif({{ json_text('record', 'campaign') }}, '') as campaign_name,
        nullif({{ json_text('record', 'promotion_tier_id') }}, '') as promotion_tier_id,
        -- redemption metadata: one `metadata.<key>` column per key, or the object as JSON text
        coalesce(
            {{ text_or_first_element(json_text('record', '"metadata.location_id"')) }},
            {{ text_or_first_element(json_text('record', '"metadata.location"')) }},
            {{ redemption_metadata_location(
                dbt.safe_cast("nullif(" ~ json_text('record', 'metadata') ~ ", '')", 'json')
            ) }}
        ) as redemption_location_id,
        nullif({{ json_text('record', 'customer_id') }}, '') as customer_id,
        nullif({{ json_text('record', 'customer_source_id') }}, '') as customer_source_id,
        nullif({{ json_text('record', 'order_id') }}, '') as order_id,
        {{ cents_to_amount(json_text('record', 'order_amount')) }} as order_amount,
        upper(nullif({{ json_text('record', 'result') }}, '')) as result,
        nullif({{ json_text('record', 'status') }}, '') as status_as_sent,
        nullif({{ json_text('record', 'failure_code') }}, '') as failure_code,
        nullif({{ json_text('record', 'failure_message') }}, '') as failure_message,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source

)

select * from renamed
