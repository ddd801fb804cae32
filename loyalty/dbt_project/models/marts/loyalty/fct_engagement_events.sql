-- One row per engagement event Voucherify reports that is neither a redemption, an order nor a ledger transaction:
-- `points_rewarded` (an earning rule awarded points: the ledger row has the transaction, this row says which rule
-- and why), `rewarded` (a main reward), `reward_redemption` (its latest state) and `validation_succeeded` /
-- `validation_failed`. From webhooks and Voucherify's Segment Event Cloud (both generations); the same event seen
-- through both counts once (int_engagement_observations_unioned keys them), the webhook's fields first.
with

keyed as (

    select * from {{ ref('int_engagement_observations_unioned') }}

),

{%- set first_seen = "source_rank, occurred_at, sighting_key" %}

final as (

    select
        event_key,
        any_value(event_kind) as event_kind,
        min(occurred_at) as occurred_at,
        {{ first_not_null('customer_source_id', first_seen) }} as customer_source_id,
        {{ first_not_null('campaign_name', first_seen) }} as campaign_name,
        {{ first_not_null('voucher_code', first_seen) }} as voucher_code,
        {{ first_not_null('order_id', first_seen) }} as order_id,
        {{ first_not_null('points', first_seen) }} as points,
        {{ first_not_null('earning_rule_id', first_seen) }} as earning_rule_id,
        {{ first_not_null('reward_name', first_seen) }} as reward_name,
        -- a reward redemption moves CREATED → PENDING → COMPLETED: its latest state
        {{ first_not_null('reward_redemption_state', 'occurred_at desc, source_rank, sighting_key') }}
            as reward_redemption_state,
        {{ first_not_null('validation_id', first_seen) }} as validation_id,
        max(_ingested_at) as last_ingested_at
    from keyed
    group by event_key

)

select * from final
