{{ config(materialized='incremental', unique_key='transaction_id', on_schema_change='append_new_columns',
          incremental_strategy=recompute_strategy(), partition_by=key_bucket_partition()) }}
-- The points ledger: one row per loyalty transaction id (gift-card credits excluded), signed points.
-- Incremental: transactions that changed since the last build, or whose order did, are rebuilt.
with

{% if is_incremental() %}
changed_orders as (

    select order_id from {{ ref('int_orders_located') }}
    where {{ ingested_since_watermark('last_ingested_at', '_source_loaded_at') }}

),
{% endif %}

transactions as (

    select * from {{ ref('int_loyalty_transactions_deduped') }}
    {% if is_incremental() %}
    where {{ ingested_since_watermark('last_ingested_at', '_source_loaded_at') }}
        or order_id in (select order_id from changed_orders)
    {% endif %}

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

cards as (

    select voucher_id, holder_customer_source_id from {{ ref('int_vouchers_resolved') }}

),

orders as (

    select order_id, location_id, last_ingested_at from {{ ref('int_orders_located') }}

),

final as (

    select
        transactions.transaction_id,
        transactions.occurred_at,
        coalesce(transactions.customer_source_id, customers.customer_source_id, cards.holder_customer_source_id)
            as customer_source_id,
        transactions.campaign_id,
        transactions.voucher_id,
        transactions.transaction_type,
        transactions.movement,
        transactions.points,
        transactions.balance_after,
        transactions.order_id,
        orders.location_id,
        transactions.earning_rule_id,
        transactions.earning_rule_name,
        transactions.reward_id,
        transactions.reward_name,
        greatest(transactions.last_ingested_at, orders.last_ingested_at) as _source_loaded_at
    from transactions
    left join customers
        on transactions.customer_id = customers.customer_id
    left join cards
        on transactions.voucher_id = cards.voucher_id
    left join orders
        on transactions.order_id = orders.order_id

)

{{ recomputed_rows('final', 'transaction_id') }}
