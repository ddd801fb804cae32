-- Redemption and rollback objects pulled from GET /v1/redemptions (`loyalty pull voucherify`).
with

source as (

    select * from {{ source('voucherify', 'voucherify_api_objects') }}
    where endpoint = 'redemptions'

),

renamed as (

    select
        {{ voucherify_redemption_columns('payload') }},
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source
    where {{ json_text('payload', 'id') }} is not null

)

select * from renamed
