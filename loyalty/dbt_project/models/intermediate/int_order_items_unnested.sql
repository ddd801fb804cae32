{{ config(
    materialized='incremental',
    unique_key='order_id',
    incremental_strategy=recompute_strategy('delete+insert'),
    partition_by=key_bucket_partition(),
    on_schema_change='append_new_columns',
    post_hook="{{ drop_emptied_buckets('order_id in (select order_id from ' ~ ref('int_orders_located') ~ ' where '
        ~ json_array_size('items', none) ~ ' = 0)') }}"
) }}
-- One row per order line of the latest known items of each order (webhook order snapshots carry items;
-- exports do not). Quantities as sent, amounts in currency units.
-- Incremental: an order changed since the last run has its lines replaced (delete+insert by order_id,
-- as an order holds several lines); an order's items never revert to none once known.
with

orders as (

    select order_id, items, last_ingested_at from {{ ref('int_orders_located') }}
    where items is not null
        and {{ ingested_since_watermark('last_ingested_at', 'last_ingested_at') }}

),

lines as (

    select order_id, last_ingested_at, {{ unnest_list(json_value_list('items')) }} as item
    from orders

),

final as (

    select
        order_id,
        coalesce({{ json_text('item', 'product_id') }}, {{ json_text('item', 'product.id') }}) as product_id,
        coalesce(
            {{ json_text('item', 'source_id') }},
            {{ json_text('item', 'sku_id') }},
            {{ json_text('item', 'product.source_id') }}
        ) as product_source_id,
        -- lines may name the product only by id and product.name (no SKU): traits match on any of the three
        nullif(
            trim(coalesce({{ json_text('item', 'product.name') }}, {{ json_text('item', 'sku.sku') }})), ''
        ) as product_name,
        {{ dbt.safe_cast(json_text('item', 'quantity'), 'bigint') }} as quantity,
        {{ cents_to_amount(json_text('item', 'amount')) }} as amount,
        last_ingested_at
    from lines

)

{{ recomputed_rows('final', 'order_id', touched='orders') }}
