{{ config(materialized='incremental', unique_key='redemption_id', on_schema_change='append_new_columns',
          incremental_strategy=recompute_strategy(), partition_by=key_bucket_partition()) }}
-- One row per redemption id: every channel's sightings merged, rollback objects dropped, stack parents
-- flagged (fct_redemptions leaves them out), the status the source left null derived, and the discount the
-- redeemable applied (macros/voucherify_objects.sql applied_discount; 0 for failures).
-- Incremental: only redemptions with a sighting in the look-back window (or a rollback or stack child
-- naming them) are recomputed, each from all of its sightings.
with

{% if is_incremental() %}
recent_sightings as (

    select redemption_id, parent_redemption_id
    from {{ ref('int_redemption_observations_unioned') }}
    where {{ ingested_since_watermark('_ingested_at', 'last_ingested_at') }}

),

touched as (

    select redemption_id from recent_sightings
    union
    select parent_redemption_id from recent_sightings where parent_redemption_id is not null

),
{% endif %}

observations as (

    select * from {{ ref('int_redemption_observations_unioned') }}
    {% if is_incremental() %}
    where redemption_id in (select redemption_id from touched)
        or parent_redemption_id in (select redemption_id from touched)
    {% endif %}

),

redemption_sightings as (

    select * from observations
    where object_type = 'redemption'
        and redemption_id not like 'rr%'

),

rollback_sightings as (

    select * from observations
    where object_type = 'redemption_rollback'
        or redemption_id like 'rr%'

),

-- A stack parent is named by a child (`redemption` = the parent's id). One that says so itself
-- (related_object_type = 'redemption') is a parent when it succeeded; a failed one with no child is a failed
-- stack attempt (e.g. not_found) and counts once like any failure.
named_parents as (

    select distinct parent_redemption_id as redemption_id
    from redemption_sightings
    where parent_redemption_id is not null

),

succeeded_rollbacks as (

    select
        parent_redemption_id as redemption_id,
        min(redeemed_at) as rolled_back_at,
        max(_ingested_at) as last_ingested_at
    from rollback_sightings
    where coalesce(result, 'SUCCESS') = 'SUCCESS'
        and coalesce(status_as_sent, 'SUCCEEDED') = 'SUCCEEDED'
        and parent_redemption_id is not null
    group by parent_redemption_id

),

{%- set first_seen = "observed_via_rank, _ingested_at, _file, _line" %}

merged as (

    select
        redemption_id,
        {{ first_not_null('redeemed_at', first_seen) }} as redeemed_at,
        {{ first_not_null('result', first_seen) }} as result,
        -- once rolled back, a redemption stays rolled back: that status wins over earlier ones
        max(case when status_as_sent = 'ROLLED_BACK' then 1 else 0 end) as was_sent_rolled_back,
        {{ first_not_null('status_as_sent', first_seen) }} as first_status_as_sent,
        {{ first_not_null('failure_code', first_seen) }} as failure_code,
        {{ first_not_null('failure_message', first_seen) }} as failure_message,
        {{ first_not_null('customer_id', first_seen) }} as customer_id,
        {{ first_not_null('customer_source_id', first_seen) }} as customer_source_id,
        {{ first_not_null('campaign_name', first_seen) }} as campaign_name,
        {{ first_not_null('campaign_id', first_seen) }} as campaign_id,
        {{ first_not_null('promotion_tier_id', first_seen) }} as promotion_tier_id,
        {{ first_not_null('voucher_code', first_seen) }} as voucher_code,
        {{ first_not_null('order_id', first_seen) }} as order_id,
        {{ first_not_null('applied_discount_amount', first_seen) }} as applied_discount_amount,
        {{ first_not_null('order_location_id', first_seen) }} as order_location_id,
        {{ first_not_null('redemption_location_id', first_seen) }} as redemption_location_id,
        {{ first_not_null('channel_type', first_seen) }} as channel_type,
        {{ first_not_null('related_object_type', first_seen) }} as related_object_type,
        max(related_rollbacks_count) as related_rollbacks_count,
        min(related_rollback_at) as related_rollback_at,
        max(_ingested_at) as last_ingested_at
    from redemption_sightings
    group by redemption_id

),

final as (

    select
        merged.redemption_id,
        merged.redeemed_at,
        merged.result,
        case
            when merged.was_sent_rolled_back = 1
                or succeeded_rollbacks.redemption_id is not null
                or merged.related_rollbacks_count > 0 then 'ROLLED_BACK'
            when merged.first_status_as_sent is not null then merged.first_status_as_sent
            when merged.result = 'FAILURE' then 'FAILED'
            else 'SUCCEEDED'
        end as status,
        merged.failure_code,
        merged.failure_message,
        merged.customer_id,
        merged.customer_source_id,
        merged.campaign_name,
        merged.campaign_id,
        merged.promotion_tier_id,
        merged.voucher_code,
        merged.order_id,
        merged.order_location_id,
        merged.redemption_location_id,
        merged.channel_type,
        cast(
            case when merged.result = 'SUCCESS' then coalesce(merged.applied_discount_amount, 0) else 0 end
            as {{ type_money() }}
        ) as discount_amount,
        coalesce(succeeded_rollbacks.rolled_back_at, merged.related_rollback_at) as rolled_back_at,
        (
            named_parents.redemption_id is not null
            or coalesce(
                merged.related_object_type = 'redemption' and coalesce(merged.result, 'SUCCESS') = 'SUCCESS', false
            )
        )
            as is_stack_parent,
        greatest(merged.last_ingested_at, succeeded_rollbacks.last_ingested_at) as last_ingested_at
    from merged
    left join succeeded_rollbacks
        on merged.redemption_id = succeeded_rollbacks.redemption_id
    left join named_parents
        on merged.redemption_id = named_parents.redemption_id

)

{{ recomputed_rows('final', 'redemption_id') }}
