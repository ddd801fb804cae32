-- Order location resolution: order.metadata.location_id, else order.metadata.location, else the
-- Segment POS "Order placed" event that names the order (its `localisation`), else, for the POS's replacement
-- order after a return (metadata.originOrderId), the location of the order it replaces.
with

orders as (

    select * from {{ ref('int_orders_latest') }}

),

segment_locations as (

    select * from {{ ref('int_order_locations_from_segment') }}

),

own_locations as (

    select
        orders.*,
        coalesce(orders.metadata_location_id, orders.metadata_location, segment_locations.location_id)
            as own_location_id,
        case
            when orders.metadata_location_id is not null then 'order.metadata.location_id'
            when orders.metadata_location is not null then 'order.metadata.location'
            when segment_locations.location_id is not null then 'segment.order_placed'
        end as own_location_source,
        greatest(orders.last_ingested_at, segment_locations._ingested_at) as own_last_ingested_at
    from orders
    left join segment_locations
        on orders.order_id = segment_locations.order_id

),

final as (

    select
        orders.order_id,
        orders.created_at,
        orders.status,
        orders.customer_id,
        orders.customer_source_id,
        orders.amount,
        orders.discount_amount,
        orders.total_amount,
        coalesce(orders.own_location_id, origins.own_location_id) as location_id,
        coalesce(
            orders.own_location_source,
            case when origins.own_location_id is not null then 'origin_order' end
        ) as location_source,
        orders.origin_order_id,
        orders.items,
        -- when anything this row is made of last arrived (drives the incremental marts)
        greatest(orders.own_last_ingested_at, origins.own_last_ingested_at) as last_ingested_at
    from own_locations as orders
    left join own_locations as origins
        on orders.origin_order_id = origins.order_id

)

select * from final
