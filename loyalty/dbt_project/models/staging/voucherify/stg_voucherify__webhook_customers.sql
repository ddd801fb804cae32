-- Customer objects seen in any webhook (customer, holder, and the customer inside a redemption or
-- publication): the cust_… id ↔ source_id (= Segment userId) link and contact details.
with

-- Not materialized: several branches read it, and a materialized CTE would stop an incremental model's
-- `_ingested_at` filter from reaching the raw table, so every run would parse every delivery again.
deliveries {{ as_not_materialized() }} (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}

),

customer_objects as (

    select deliveries.*, {{ json_value('data', 'customer') }} as doc from deliveries where envelope = 'v2024'
    union all
    select deliveries.*, {{ json_value('data', 'holder') }} as doc from deliveries where envelope = 'v2024'
    union all
    select deliveries.*, {{ json_value('data', 'redemption.customer') }} as doc from deliveries where envelope = 'v2024'
    union all
    select deliveries.*, {{ json_value('data', 'publication.customer') }} as doc
    from deliveries
    where envelope = 'v2024'
    union all
    select
        deliveries.*,
        case
            when data_object_type = 'customer' then data_object else {{ json_value('data_object', 'customer') }}
        end as doc
    from deliveries where envelope = 'v2018'

),

renamed as (

    select
        {{ json_text('doc', 'id') }} as customer_id,
        {{ json_text('doc', 'source_id') }} as customer_source_id,
        {{ json_text('doc', 'email') }} as email,
        {{ json_text('doc', 'name') }} as customer_name,
        event_id,
        event_type,
        event_created_at,
        _batch_id,
        _ingested_at

    from customer_objects
    where {{ json_text('doc', 'id') }} is not null

)

select * from renamed
