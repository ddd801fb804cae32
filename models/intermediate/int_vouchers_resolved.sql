-- One row per voucher (v_…): code, type, campaign and holder, from every object that carries it.
with

sightings as (

    select voucher_id, voucher_code, voucher_type, campaign_name, campaign_id, holder_customer_id,
        null as holder_customer_source_id, 1 as source_rank, event_created_at as seen_at
    from {{ ref('stg_voucherify__webhook_vouchers') }}

    union all

    select voucher_id, voucher_code, voucher_type, campaign_name, campaign_id, holder_customer_id,
        holder_customer_source_id, 2, null
    from {{ ref('stg_voucherify__export_vouchers') }}

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

merged as (

    select
        voucher_id,
        {{ first_not_null('voucher_code', 'source_rank, seen_at') }} as voucher_code,
        {{ first_not_null('voucher_type', 'source_rank, seen_at') }} as voucher_type,
        {{ first_not_null('campaign_name', 'source_rank, seen_at') }} as campaign_name,
        {{ first_not_null('campaign_id', 'source_rank, seen_at') }} as campaign_id,
        {{ first_not_null('holder_customer_id', 'source_rank, seen_at') }} as holder_customer_id,
        {{ first_not_null('holder_customer_source_id', 'source_rank, seen_at') }} as holder_customer_source_id
    from sightings
    where voucher_id is not null
    group by voucher_id

),

final as (

    select
        merged.voucher_id,
        merged.voucher_code,
        merged.voucher_type,
        merged.campaign_name,
        merged.campaign_id,
        merged.holder_customer_id,
        coalesce(merged.holder_customer_source_id, customers.customer_source_id) as holder_customer_source_id
    from merged
    left join customers
        on merged.holder_customer_id = customers.customer_id

)

select * from final
