-- Every Segment message as landed (warehouse dump rows and raw-archive messages alike), typed.
-- A track appears twice in a warehouse dump (`tracks` and its per-event table, same id): both are kept
-- here; int_segment_events_deduped keeps one message per id.
with

source as (

    select * from {{ source('segment', 'segment_events') }}

),

renamed as (

    select
        message_id,
        lower(type) as message_type,
        event as event_slug,
        event_text,
        nullif(trim(user_id), '') as user_id,
        nullif(trim(anonymous_id), '') as anonymous_id,
        {{ adapter.quote('timestamp') }} as occurred_at,
        received_at,
        properties,
        origin,
        source_schema,
        table_name,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source
    where message_id is not null

)

select * from renamed
