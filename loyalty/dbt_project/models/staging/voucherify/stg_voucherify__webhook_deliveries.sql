-- One row per webhook delivery as received (duplicates kept), envelope differences resolved:
-- `data_object` is the event's main resource for the legacy v2018 envelope (data.object).
with

source as (

    select * from {{ source('voucherify', 'voucherify_webhooks') }}

),

renamed as (

    select
        event_id,
        delivery_id,
        webhook_source_id,
        source_object,
        envelope,
        -- The vendor spec carries typos in some names; fold them onto the canonical ones.
        replace(replace(event_type, 'points_aded', 'points_added'), 'succceeded', 'succeeded') as event_type,
        type_as_sent,
        created_at as event_created_at,
        {{ json_value('payload', 'data') }} as data,
        case when envelope = 'v2018' then {{ json_value('payload', 'data.object') }} end as data_object,
        case when envelope = 'v2018' then {{ json_text('payload', 'data.object.object') }} end as data_object_type,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source

)

select * from renamed
