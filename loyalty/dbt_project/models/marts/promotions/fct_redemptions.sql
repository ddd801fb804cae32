{{ config(
    materialized='incremental',
    unique_key='redemption_id',
    on_schema_change='append_new_columns',
    incremental_strategy=recompute_strategy(),
    partition_by=key_bucket_partition(),
    post_hook="{{ delete_rows_where('redemption_id in (select redemption_id from '
        ~ ref('int_redemptions_status_derived') ~ ' where is_stack_parent)') }}"
) }}
-- One row per redemption of a single redeemable (r_/rf_ ids): stack parents and rollbacks are not rows.
-- The campaign's name comes from anything that names its campaign or promotion tier when the redemption
-- carries only an id; the location is the order's, else the one the redemption itself records.
-- Incremental: redemptions that changed since the last build, or whose order or campaign name did, are
-- rebuilt; a redemption later revealed as a stack parent is deleted by the post-hook.
with

{% if is_incremental() %}
changed_orders as (

    select order_id from {{ ref('int_orders_located') }}
    where {{ ingested_since_watermark('last_ingested_at', '_source_loaded_at') }}

),

changed_names as (

    select name_key from {{ ref('int_campaigns_named') }}
    where {{ ingested_since_watermark('last_ingested_at', '_source_loaded_at') }}

),
{% endif %}

redemptions as (

    select * from {{ ref('int_redemptions_status_derived') }}
    where is_stack_parent is not true  -- null: a row built before the flag existed, when parents were already left out
    {% if is_incremental() %}
    and (
        {{ ingested_since_watermark('last_ingested_at', '_source_loaded_at') }}
        or order_id in (select order_id from changed_orders)
        or 'campaign:' || campaign_id in (select name_key from changed_names)
        or 'promotion_tier:' || promotion_tier_id in (select name_key from changed_names)
    )
    {% endif %}

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

orders as (

    select order_id, location_id, last_ingested_at from {{ ref('int_orders_located') }}

),

campaign_names as (

    select * from {{ ref('int_campaigns_named') }}

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
        coalesce(redemptions.campaign_name, by_campaign.campaign_name, by_tier.campaign_name) as campaign_name,
        redemptions.voucher_code,
        redemptions.order_id,
        coalesce(orders.location_id, redemptions.order_location_id, redemptions.redemption_location_id) as location_id,
        redemptions.channel_type,
        redemptions.discount_amount,
        redemptions.rolled_back_at,
        greatest(
            redemptions.last_ingested_at, orders.last_ingested_at, by_campaign.last_ingested_at,
            by_tier.last_ingested_at
        ) as _source_loaded_at
    from redemptions
    left join customers
        on redemptions.customer_id = customers.customer_id
    left join orders
        on redemptions.order_id = orders.order_id
    left join campaign_names as by_campaign
        on by_campaign.name_key = 'campaign:' || redemptions.campaign_id
    left join campaign_names as by_tier
        on by_tier.name_key = 'promotion_tier:' || redemptions.promotion_tier_id

)

{%- set stack_parents %}select redemption_id from {{ ref('int_redemptions_status_derived') }} where is_stack_parent{% endset %}
{{ recomputed_rows('final', 'redemption_id', removed=stack_parents) }}
