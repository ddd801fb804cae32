-- Voucherify events that are neither a redemption, an order nor a loyalty transaction but matter to a marketer:
-- points an earning rule awarded (customer.rewarded.loyalty_points), rewards (customer.rewarded), reward
-- redemptions (customer.reward_redemptions.created|pending|completed) and validations
-- (customer.validation.succeeded|failed). One row per delivery.
with

deliveries as (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}
    where event_type in (
            'customer.rewarded.loyalty_points', 'customer.rewarded',
            'customer.reward_redemptions.created', 'customer.reward_redemptions.pending',
            'customer.reward_redemptions.completed', 'customer.validation.succeeded', 'customer.validation.failed'
        )

),

renamed as (

    select
        event_id,
        event_type,
        event_created_at,
        coalesce({{ json_text('data', 'customer.source_id') }}, {{ json_text('data', 'holder.source_id') }})
            as customer_source_id,
        coalesce({{ json_text('data', 'customer.id') }}, {{ json_text('data', 'holder.id') }}) as customer_id,
        coalesce({{ json_text('data', 'campaign.name') }}, {{ json_text('data', 'voucher.campaign') }})
            as campaign_name,
        {{ json_text('data', 'voucher.id') }} as voucher_id,
        -- a validation names its code as a redeemable: `redeemables` (valid), `inapplicable_redeemables` (invalid)
        coalesce(
            {{ json_text('data', 'voucher.code') }}, {{ json_text('data', 'validation.code') }},
            {{ json_text('data', 'validation.redeemables[0].id') }},
            {{ json_text('data', 'validation.inapplicable_redeemables[0].id') }},
            {{ json_text('data', 'validation.skipped_redeemables[0].id') }}
        ) as voucher_code,
        coalesce({{ json_text('data', 'order.id') }}, {{ json_text('data', 'redemption.order.id') }}) as order_id,
        {{ dbt.safe_cast(json_text('data', 'balance.points'), 'bigint') }} as points,
        {{ json_text('data', 'earning_rule.id') }} as earning_rule_id,
        {{ json_text('data', 'event.id') }} as trigger_event_id,
        {{ json_text('data', 'reward.id') }} as reward_id,
        {{ json_text('data', 'reward.name') }} as reward_name,
        {{ json_text('data', 'reward_redemption.id') }} as reward_redemption_id,
        upper({{ json_text('data', 'reward_redemption.state') }}) as reward_redemption_state,
        {{ json_text('data', 'redemption.id') }} as redemption_id,
        {{ json_text('data', 'validation.id') }} as validation_id,
        {{ to_utc_timestamp(json_text('data', 'validation.created_at')) }} as validated_at,
        _batch_id,
        _ingested_at

    from deliveries

)

select * from renamed
