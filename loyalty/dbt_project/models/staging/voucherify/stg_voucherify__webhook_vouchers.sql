-- Voucher objects seen in any webhook (top-level voucher(s), and those inside redemptions and
-- publications): code, type, campaign and holder, one row per voucher per delivery.
with

-- Not materialized: several branches read it, and a materialized CTE would stop an incremental model's
-- `_ingested_at` filter from reaching the raw table, so every run would parse every delivery again.
deliveries {{ as_not_materialized() }} (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}

),

voucher_objects as (

    select deliveries.*, {{ json_value('data', 'voucher') }} as doc from deliveries where envelope = 'v2024'
    union all
    select deliveries.*, {{ unnest_list(json_value_list('data', 'vouchers')) }} as doc from deliveries
    where envelope = 'v2024' and {{ json_array_size('data', 'vouchers') }} > 0
    union all
    select deliveries.*, {{ json_value('data', 'redemption.voucher') }} as doc from deliveries where envelope = 'v2024'
    union all
    select deliveries.*, {{ json_value('data', 'publication.voucher') }} as doc from deliveries where envelope = 'v2024'
    union all
    select
        deliveries.*,
        case
            when data_object_type = 'voucher' then data_object else {{ json_value('data_object', 'voucher') }}
        end as doc
    from deliveries where envelope = 'v2018'

),

renamed as (

    select
        {{ json_text('doc', 'id') }} as voucher_id,
        {{ json_text('doc', 'code') }} as voucher_code,
        upper({{ json_text('doc', 'type') }}) as voucher_type,
        {{ json_text('doc', 'campaign') }} as campaign_name,
        {{ json_text('doc', 'campaign_id') }} as campaign_id,
        {{ json_text('doc', 'holder_id') }} as holder_customer_id,
        event_id,
        event_type,
        event_created_at,
        _batch_id,
        _ingested_at

    from voucher_objects
    where {{ json_text('doc', 'id') }} is not null

)

select * from renamed
