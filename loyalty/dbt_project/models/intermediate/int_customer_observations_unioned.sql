{{ config(materialized='incremental', unique_key='observation_key', on_schema_change='append_new_columns') }}
-- Every object that names a Voucherify customer: webhook customer objects, customer exports, and the
-- customer id + source_id pairs on redemptions, publications and transactions. Incremental.
with

webhook_customers as (

    select
        customer_id, customer_source_id, email, customer_name, event_created_at as seen_at, 1 as source_rank,
        'webhook:' || customer_id || ':' || event_id as observation_key,
        _ingested_at
    from {{ ref('stg_voucherify__webhook_customers') }}
    -- a deleted customer's source_id is rewritten ("…_deleted<time>"): not the merchant's id
    where event_type not like '%customer.deleted'
        and {{ ingested_since_watermark() }}

),

export_customers as (

    select
        customer_id, customer_source_id, email, customer_name, created_at as seen_at, 2 as source_rank,
        'export:' || customer_id || ':' || _file || ':' || cast(_line as {{ type_text() }}) as observation_key,
        _ingested_at
    from {{ ref('stg_voucherify__export_customers') }}
    where {{ ingested_since_watermark() }}

),

export_publications as (

    select
        customer_id, customer_source_id, null as email, null as customer_name, published_at as seen_at,
        3 as source_rank,
        'export_publication:'
        || customer_id
        || ':'
        || _file
        || ':'
        || cast(_line as {{ type_text() }}) as observation_key,
        _ingested_at
    from {{ ref('stg_voucherify__export_publications') }}
    where {{ ingested_since_watermark() }}

),

-- already materialised observations: one row per customer and load is enough
named_on_facts as (

    select
        customer_id, customer_source_id, null as email, null as customer_name, min(redeemed_at) as seen_at,
        3 as source_rank,
        'redemption:'
        || customer_id
        || ':'
        || customer_source_id
        || ':'
        || {{ timestamp_text('_ingested_at') }} as observation_key,
        _ingested_at
    from {{ ref('int_redemption_observations_unioned') }}
    where customer_source_id is not null and {{ ingested_since_watermark() }}
    group by customer_id, customer_source_id, _ingested_at

    union all

    select
        customer_id, customer_source_id, null, null, min(occurred_at), 3,
        'transaction:' || customer_id || ':' || customer_source_id || ':' || {{ timestamp_text('_ingested_at') }},
        _ingested_at
    from {{ ref('int_loyalty_transaction_observations_unioned') }}
    where customer_source_id is not null and {{ ingested_since_watermark() }}
    group by customer_id, customer_source_id, _ingested_at

),

unioned as (

    select * from webhook_customers
    union all
    select * from export_customers
    union all
    select * from export_publications
    union all
    select * from named_on_facts

),

final as (

    select * from unioned
    where customer_id is not null
    qualify row_number() over (partition by observation_key order by {{ nulls_last('_ingested_at') }}) = 1

)

select * from final
where {{ not_yet_loaded('observation_key') }}
