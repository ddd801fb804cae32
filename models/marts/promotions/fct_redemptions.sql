-- One row per redemption of a single redeemable (r_/rf_ ids): stack parents and rollbacks are not rows.
with

redemptions as (

    select * from {{ ref('int_redemptions_status_derived') }}
    where is_stack_parent is not true  -- null: a row built before the flag existed, when parents were already left out

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

orders as (

    select order_id, location_id from {{ ref('int_orders_located') }}

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
        redemptions.rolled_back_at
    from redemptions
    left join customers
        on redemptions.customer_id = customers.customer_id
    left join orders
        on redemptions.order_id = orders.order_id

)

select * from final
