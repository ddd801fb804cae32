-- One row per Voucherify customer (cust_…): its source_id (the merchant's id, = Segment userId) and the
-- latest email and name, from every object that names the customer.
with

webhook_customers as (

    select customer_id, customer_source_id, email, customer_name, event_created_at as seen_at, 1 as source_rank,
        _ingested_at
    from {{ ref('stg_voucherify__webhook_customers') }}
    -- a deleted customer's source_id is rewritten ("…_deleted<time>"): not the merchant's id
    where event_type not like '%customer.deleted'

),

export_customers as (

    select customer_id, customer_source_id, email, customer_name, created_at as seen_at, 2 as source_rank,
        _ingested_at
    from {{ ref('stg_voucherify__export_customers') }}

),

named_elsewhere as (

    select customer_id, customer_source_id, null as email, null as customer_name, redeemed_at as seen_at,
        3 as source_rank, _ingested_at
    from {{ ref('int_redemption_observations_unioned') }}

    union all

    select customer_id, customer_source_id, null, null, published_at, 3, _ingested_at
    from {{ ref('stg_voucherify__export_publications') }}

    union all

    select customer_id, customer_source_id, null, null, occurred_at, 3, _ingested_at
    from {{ ref('int_loyalty_transaction_observations_unioned') }}

),

unioned as (

    select * from webhook_customers
    union all
    select * from export_customers
    union all
    select * from named_elsewhere

),

final as (

    select
        customer_id,
        {{ first_not_null('customer_source_id', 'source_rank, seen_at, _ingested_at') }} as customer_source_id,
        {{ first_not_null('email', 'seen_at desc, source_rank, _ingested_at desc') }} as email,
        {{ first_not_null('customer_name', 'seen_at desc, source_rank, _ingested_at desc') }} as customer_name
    from unioned
    where customer_id is not null
    group by customer_id

)

select * from final
