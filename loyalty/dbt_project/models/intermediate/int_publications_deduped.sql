-- One row per publication (a voucher handed to a customer) across webhooks, publication exports and
-- Voucherify's Segment Event Cloud, with the voucher's code, type and campaign.
with

unioned as (

    select * from {{ ref('int_publication_observations_unioned') }}

),

{%- set first_seen = "source_rank, _ingested_at, observation_key" %}

merged as (

    select
        publication_id,
        {{ first_not_null('voucher_id', first_seen) }} as voucher_id,
        {{ first_not_null('voucher_code', first_seen) }} as voucher_code,
        {{ first_not_null('campaign_name', first_seen) }} as campaign_name,
        {{ first_not_null('published_at', first_seen) }} as published_at,
        {{ first_not_null('customer_id', first_seen) }} as customer_id,
        {{ first_not_null('customer_source_id', first_seen) }} as customer_source_id,
        {{ first_not_null('publication_channel', first_seen) }} as publication_channel,
        max(_ingested_at) as last_ingested_at
    from unioned
    where publication_id is not null
    group by publication_id

),

vouchers as (

    select * from {{ ref('int_vouchers_resolved') }}

),

vouchers_by_code as (

    select * from vouchers
    where voucher_code is not null
    qualify row_number() over (partition by voucher_code order by voucher_id) = 1

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

final as (

    select
        merged.publication_id,
        coalesce(merged.voucher_id, vouchers_by_code.voucher_id) as voucher_id,
        coalesce(merged.voucher_code, vouchers.voucher_code) as voucher_code,
        coalesce(vouchers.voucher_type, vouchers_by_code.voucher_type) as voucher_type,
        coalesce(merged.campaign_name, vouchers.campaign_name, vouchers_by_code.campaign_name) as campaign_name,
        merged.published_at,
        merged.customer_id,
        coalesce(merged.customer_source_id, customers.customer_source_id) as customer_source_id,
        merged.publication_channel,
        merged.last_ingested_at
    from merged
    left join vouchers
        on merged.voucher_id = vouchers.voucher_id
    left join vouchers_by_code
        on merged.voucher_id is null
       and merged.voucher_code = vouchers_by_code.voucher_code
    left join customers
        on merged.customer_id = customers.customer_id

)

select * from final
