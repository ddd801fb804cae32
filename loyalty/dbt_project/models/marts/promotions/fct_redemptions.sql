{{ config(
    materialized='incremental',
    unique_key='redemption_id',
    on_schema_change='append_new_columns',
    post_hook="delete from {{ this }} where redemption_id in (select redemption_id from {{ ref('int_redemptions_status_derived') }} where is_stack_parent)"
) }}
-- One row per redemption of a single redeemable (r_/rf_ ids): stack parents and rollbacks are not rows.
-- Incremental: redemptions that changed since the last build, or whose order did, are rebuilt; a
-- redemption later revealed as a stack parent is deleted by the post-hook.
with

{% if is_incremental() %}
changed_orders as (

    select order_id from {{ ref('int_orders_located') }}
    where {{ ingested_since_watermark('last_ingested_at', '_source_loaded_at') }}

),
{% endif %}

redemptions as (

    select * from {{ ref('int_redemptions_status_derived') }}
    where is_stack_parent is not true  -- null: a row built before the flag existed, when parents were already left out
    {% if is_incremental() %}
      and ({{ ingested_since_watermark('last_ingested_at', '_source_loaded_at') }}
           or order_id in (select order_id from changed_orders))
    {% endif %}

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

orders as (

    select order_id, location_id, last_ingested_at from {{ ref('int_orders_located') }}

),

final as (

    select
        redemptions.redemption_id,
        redemptions.redeemed_at,
        redemptions.result,
        redemptions.status,
        redemptions.failure_code,
        redemptions.failure_message,
        coalesce(redemptions.customer_source_id, customers.customer_source_id) as customer_source_id,
        redemptions.campaign_name,
        redemptions.voucher_code,
        redemptions.order_id,
        orders.location_id,
        redemptions.channel_type,
        redemptions.discount_amount,
        redemptions.rolled_back_at,
        greatest(redemptions.last_ingested_at, orders.last_ingested_at) as _source_loaded_at
    from redemptions
    left join customers
        on redemptions.customer_id = customers.customer_id
    left join orders
        on redemptions.order_id = orders.order_id

)

select * from final
