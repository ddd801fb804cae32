-- One row per order: the latest snapshot, by the order's version (updated_at, else created_at: an order never
-- updated carries no updated_at); between copies of the same version (equal or absent updated_at) the copy
-- from the latest event wins, then an order event over an export over an order copied inside another event.
-- Fields a snapshot left out (location, customer, items) come from the other snapshots.
-- Incremental: orders with a snapshot in the look-back window are recomputed from all their snapshots.
{{ config(materialized='incremental', unique_key='order_id', on_schema_change='append_new_columns',
          incremental_strategy=recompute_strategy(), partition_by=key_bucket_partition()) }}
with

snapshots as (

    select * from {{ ref('int_order_snapshots_unioned') }}
    {% if is_incremental() %}
    where order_id in (
            select order_id from {{ ref('int_order_snapshots_unioned') }}
            where {{ ingested_since_watermark('_ingested_at', 'last_ingested_at') }}
        )
    {% endif %}

),

ranked as (

    select
        *,
        row_number() over (
            partition by order_id
            order by
                {{ nulls_last(
                    'status_as_of desc nulls last, delivered_at desc nulls last, source_rank, _ingested_at, _file, _line'
                ) }}
        ) as recency
    from snapshots

),

latest as (

    select * from ranked where recency = 1

),

{%- set latest_first = "recency" %}

filled as (

    select
        order_id,
        {{ first_not_null('created_at', latest_first) }} as created_at,
        {{ first_not_null('customer_id', latest_first) }} as customer_id,
        {{ first_not_null('customer_source_id', latest_first) }} as customer_source_id,
        {{ first_not_null('metadata_location_id', latest_first) }} as metadata_location_id,
        {{ first_not_null('metadata_location', latest_first) }} as metadata_location,
        {{ first_not_null('origin_order_id', latest_first) }} as origin_order_id,
        {{ first_not_null('items', latest_first) }} as items,
        max(_ingested_at) as last_ingested_at
    from ranked
    group by order_id

),

final as (

    select
        latest.order_id,
        filled.created_at,
        latest.status,
        filled.customer_id,
        filled.customer_source_id,
        latest.amount,
        latest.discount_amount,
        latest.total_amount,
        filled.metadata_location_id,
        filled.metadata_location,
        filled.origin_order_id,
        filled.items,
        filled.last_ingested_at
    from latest
    inner join filled
        on latest.order_id = filled.order_id

)

{{ recomputed_rows('final', 'order_id') }}
