-- Rows of Exports API `voucher` downloads: code, type, campaign and holder of each voucher.
with

source as (

    select * from {{ source('voucherify', 'voucherify_exports') }}
    where exported_object = 'voucher'

),

renamed as (

    select
        {{ json_text('record', 'id') }} as voucher_id,
        nullif({{ json_text('record', 'code') }}, '') as voucher_code,
        upper(nullif({{ json_text('record', 'voucher_type') }}, '')) as voucher_type,
        nullif({{ json_text('record', 'campaign') }}, '') as campaign_name,
        nullif({{ json_text('record', 'campaign_id') }}, '') as campaign_id,
        nullif({{ json_text('record', 'customer_id') }}, '') as holder_customer_id,
        nullif({{ json_text('record', 'customer_source_id') }}, '') as holder_customer_source_id,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source

)

select * from renamed
