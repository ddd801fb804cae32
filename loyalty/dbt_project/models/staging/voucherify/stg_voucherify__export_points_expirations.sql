-- Rows of Exports API `points_expiration` downloads: each loyalty card's point buckets and the day they expire.
-- Every download is a full snapshot of the buckets at export time (marts read the freshest one).
with

source as (

    select * from {{ source('voucherify', 'voucherify_exports') }}
    where exported_object = 'points_expiration'

),

renamed as (

    select
        {{ json_text('record', 'id') }} as bucket_id,
        nullif({{ json_text('record', 'campaign_id') }}, '') as campaign_id,
        nullif({{ json_text('record', 'voucher_id') }}, '') as voucher_id,
        upper(nullif({{ json_text('record', 'status') }}, '')) as status,
        {{ dbt.safe_cast(json_text('record', 'expires_at'), 'date') }} as expires_on,
        {{ dbt.safe_cast(json_text('record', 'points'), 'bigint') }} as points,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source

)

select * from renamed
