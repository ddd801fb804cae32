-- One row per Voucherify customer (cust_…): its source_id (the merchant's id, = Segment userId) and the
-- latest email and name, from every object that names the customer.
with

observations as (

    select * from {{ ref('int_customer_observations_unioned') }}

),

final as (

    select
        customer_id,
        {{ first_not_null('customer_source_id', 'source_rank, seen_at, _ingested_at, observation_key') }}
            as customer_source_id,
        {{ first_not_null('email', 'seen_at desc, source_rank, _ingested_at desc, observation_key') }} as email,
        {{ first_not_null('customer_name', 'seen_at desc, source_rank, _ingested_at desc, observation_key') }}
            as customer_name
    from observations
    group by customer_id

)

select * from final
