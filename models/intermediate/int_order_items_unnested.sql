-- One row per order line of the latest known items of each order (webhook order snapshots carry items;
-- exports do not). Quantities as sent, amounts in currency units.
with

orders as (

    select order_id, items from {{ ref('int_orders_located') }}
    where items is not null

),

lines as (

    select order_id, unnest(json_extract(items, '$[*]')) as item
    from orders

),

final as (

    select
        order_id,
        {{ json_text('item', 'product_id') }} as product_id,
        coalesce({{ json_text('item', 'source_id') }}, {{ json_text('item', 'sku_id') }}, {{ json_text('item', 'product.source_id') }}) as product_source_id,
        {{ dbt.safe_cast(json_text('item', 'quantity'), 'bigint') }} as quantity,
        {{ cents_to_amount(json_text('item', 'amount')) }} as amount
    from lines

)

select * from final
