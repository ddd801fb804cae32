-- Loyalty transactions pulled from GET /v1/loyalties/{campaignId}/transactions (`loyalty pull voucherify`).
with

source as (

    select * from {{ source('voucherify', 'voucherify_api_objects') }}
    where endpoint = 'loyalty_transactions'

),

renamed as (

    select
        {{ voucherify_transaction_columns('payload') }},
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source
    where {{ json_text('payload', 'id') }} is not null

)

select * from renamed
