-- Redemption and redemption-rollback objects carried by redemption webhooks, one row per object per
-- delivery. A rollback event carries both the rolled-back redemption and the rollback.
-- v2024: data.redemption / data.redemption_rollback; legacy v2018: data.object.
with

deliveries as (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}
    where event_type like 'redemption.%'
       or event_type like 'customer.redemption.%'

),

redemption_objects as (

    select deliveries.*, 'redemption' as carried_as, {{ json_value('data', 'redemption') }} as doc
    from deliveries
    where envelope = 'v2024'

    union all

    select deliveries.*, 'redemption_rollback' as carried_as, {{ json_value('data', 'redemption_rollback') }} as doc
    from deliveries
    where envelope = 'v2024'

    union all

    select deliveries.*, data_object_type as carried_as, data_object as doc
    from deliveries
    where envelope = 'v2018'

),

renamed as (

    select
        {{ json_text('doc', 'id') }} as redemption_id,
        coalesce({{ json_text('doc', 'object') }}, carried_as) as object_type,
        -- children of a stack and rollbacks name the redemption they belong to
        {{ json_text('doc', 'redemption') }} as parent_redemption_id,
        {{ to_utc_timestamp(json_text('doc', 'date')) }} as redeemed_at,
        upper({{ json_text('doc', 'result') }}) as result,
        {{ json_text('doc', 'status') }} as status_as_sent,
        {{ json_text('doc', 'failure_code') }} as failure_code,
        {{ json_text('doc', 'failure_message') }} as failure_message,
        coalesce({{ json_text('doc', 'customer_id') }}, {{ json_text('doc', 'customer.id') }}) as customer_id,
        coalesce(
            {{ json_text('doc', 'customer.source_id') }},
            case when envelope = 'v2024' then {{ json_text('data', 'customer.source_id') }} end
        ) as customer_source_id,
        coalesce(
            {{ json_text('doc', 'voucher.campaign') }},
            {{ json_text('doc', 'promotion_tier.campaign.name') }},
            case when envelope = 'v2024' then {{ json_text('data', 'campaign.name') }} end,
            case when envelope = 'v2024' then {{ json_text('data', 'voucher.campaign') }} end
        ) as campaign_name,
        coalesce(
            {{ json_text('doc', 'voucher.code') }},
            case when envelope = 'v2024' then {{ json_text('data', 'voucher.code') }} end
        ) as voucher_code,
        coalesce({{ json_text('doc', 'voucher.id') }}, {{ json_text('doc', 'voucher_id') }}) as voucher_id,
        {{ json_text('doc', 'order.id') }} as order_id,
        {{ cents_to_amount(json_text('doc', 'order.applied_discount_amount')) }} as order_applied_discount_amount,
        {{ cents_to_amount(json_text('doc', 'order.discount_amount')) }} as order_discount_amount,
        {{ json_text('doc', 'channel.channel_type') }} as channel_type,
        {{ json_text('doc', 'related_object_type') }} as related_object_type,
        {{ json_text('doc', 'related_object_id') }} as related_object_id,
        {{ json_array_size('doc', 'related_redemptions.rollbacks') }} as related_rollbacks_count,
        {{ to_utc_timestamp(json_text('doc', 'related_redemptions.rollbacks[0].date')) }} as related_rollback_at,
        {{ json_text('doc', 'reason') }} as rollback_reason,
        event_id,
        webhook_source_id,
        event_type,
        event_created_at,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from redemption_objects
    where {{ json_text('doc', 'id') }} is not null

)

select * from renamed
