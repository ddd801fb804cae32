-- The store of an order as the vendor's POS demo reports it: track "Order placed"
-- {voucherifyOrderId, localisation}. One row per Voucherify order id (the earliest report).
with

pos_orders as (

    select
        {{ json_text('properties', 'voucherify_order_id') }} as order_id,
        nullif(trim({{ json_text('properties', 'localisation') }}), '') as location_id,
        customer_source_id,
        occurred_at,
        received_at,
        message_id,
        _ingested_at
    from {{ ref('int_segment_events_identified') }}
    where event_slug in {{ sql_list(var('segment_pos_order_events')) }}

),

ranked as (

    select
        *,
        row_number() over (partition by order_id order by {{ nulls_last('received_at, message_id') }}) as report_number
    from pos_orders
    where order_id is not null
        and location_id is not null

),

final as (

    select order_id, location_id, customer_source_id, occurred_at as reported_at, _ingested_at
    from ranked
    where report_number = 1

)

select * from final
