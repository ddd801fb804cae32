-- Rows of Exports API `publication` downloads (one row per published voucher). The vendor's publication export
-- has no id: a row is a voucher (`voucher_code`, or `code` in the default field list) handed to a customer at a
-- `date`; int_publications_deduped matches it to the publication webhooks and Event Cloud name by id.
with

source as (

    select * from {{ source('voucherify', 'voucherify_exports') }}
    where exported_object = 'publication'

),

renamed as (

    select
        nullif(coalesce({{ json_text('record', 'voucher_code') }}, {{ json_text('record', 'code') }}), '')
            as voucher_code,
        nullif({{ json_text('record', 'customer_id') }}, '') as customer_id,
        nullif({{ json_text('record', 'customer_source_id') }}, '') as customer_source_id,
        {{ to_utc_timestamp(json_text('record', 'date')) }} as published_at,
        nullif({{ json_text('record', 'channel') }}, '') as publication_channel,
        nullif({{ json_text('record', 'campaign') }}, '') as campaign_name,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source

)

select * from renamed
