-- Identity stitching: each anonymous id → the user id it was first seen with (identify calls and any
-- later message carrying both). Segment user_id is the Voucherify customer source_id.
with

events as (

    select * from {{ ref('int_segment_events_deduped') }}

),

links as (

    select
        anonymous_id,
        user_id,
        occurred_at,
        received_at,
        message_id,
        row_number()
            over (partition by anonymous_id order by {{ nulls_last('occurred_at, received_at, message_id') }})
            as link_number
    from events
    where anonymous_id is not null
        and user_id is not null

),

final as (

    select
        anonymous_id,
        user_id,
        occurred_at as first_linked_at
    from links
    where link_number = 1

)

select * from final
