{{ config(materialized='view') }}
-- Segment messages with the person behind them: the user id sent, else the one stitched to the
-- anonymous id. `customer_source_id` joins to Voucherify.
-- A view: each reader takes a few event types (and the incremental ones only new rows), so copying
-- every Segment message into a table on each run cost more than it saved.
with

events as (

    select * from {{ ref('int_segment_events_deduped') }}

),

identities as (

    select * from {{ ref('int_segment_identities_stitched') }}

),

final as (

    select
        events.message_id,
        events.message_type,
        events.event_slug,
        events.event_text,
        events.user_id,
        events.anonymous_id,
        coalesce(events.user_id, identities.user_id) as customer_source_id,
        events.occurred_at,
        events.received_at,
        events.properties,
        {{ event_cloud_properties('events.properties') }} as event_cloud_properties,
        events.source_schema,
        events._ingested_at
    from events
    left join identities
        on events.anonymous_id = identities.anonymous_id

)

select * from final
