{{ config(materialized='incremental', unique_key='observation_key', on_schema_change='append_new_columns') }}
-- Every voucher object seen (webhooks and voucher exports): code, type, campaign, holder. Incremental.
with

webhook_vouchers as (

    select
        voucher_id, voucher_code, voucher_type, campaign_name, campaign_id, holder_customer_id,
        null as holder_customer_source_id, 1 as source_rank, event_created_at as seen_at,
        'webhook:' || voucher_id || ':' || event_id || ':' || coalesce(event_type, '') as observation_key,
        _ingested_at
    from {{ ref('stg_voucherify__webhook_vouchers') }}
    where {{ ingested_since_watermark() }}

),

export_vouchers as (

    select
        voucher_id, voucher_code, voucher_type, campaign_name, campaign_id, holder_customer_id,
        holder_customer_source_id, 2, null,
        'export:' || voucher_id || ':' || _file || ':' || cast(_line as {{ type_text() }}),
        _ingested_at
    from {{ ref('stg_voucherify__export_vouchers') }}
    where {{ ingested_since_watermark() }}

),

unioned as (

    select * from webhook_vouchers
    union all
    select * from export_vouchers

),

final as (

    select * from unioned
    where voucher_id is not null
    qualify row_number()
            over (
                partition by observation_key order by {{ nulls_last('_ingested_at, voucher_code, holder_customer_id') }}
            )
        = 1

)

select * from final
where {{ not_yet_loaded('observation_key') }}
