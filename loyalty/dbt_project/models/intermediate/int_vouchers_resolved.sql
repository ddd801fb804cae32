-- One row per voucher (v_…): code, type, campaign and holder, from every object that carries it.
with

sightings as (

    select * from {{ ref('int_voucher_observations_unioned') }}

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

merged as (

    select
        voucher_id,
        {{ first_not_null('voucher_code', 'source_rank, seen_at, observation_key') }} as voucher_code,
        {{ first_not_null('voucher_type', 'source_rank, seen_at, observation_key') }} as voucher_type,
        {{ first_not_null('campaign_name', 'source_rank, seen_at, observation_key') }} as campaign_name,
        {{ first_not_null('campaign_id', 'source_rank, seen_at, observation_key') }} as campaign_id,
        {{ first_not_null('holder_customer_id', 'source_rank, seen_at, observation_key') }} as holder_customer_id,
        {{ first_not_null('holder_customer_source_id', 'source_rank, seen_at, observation_key') }}
            as holder_customer_source_id,
        max(_ingested_at) as last_ingested_at
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
        coalesce(merged.holder_customer_source_id, customers.customer_source_id) as holder_customer_source_id,
        merged.last_ingested_at
    from merged
    left join customers
        on merged.holder_customer_id = customers.customer_id

)

select * from final
