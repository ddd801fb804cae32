{{ config(materialized='incremental', unique_key='message_id', on_schema_change='append_new_columns') }}
-- One row per Segment message id. The same id can arrive twice, days apart, and through both the
-- warehouse dump and the raw archive: keep the first copy ingested (an incremental run cannot swap a kept
-- copy for a later one, so a full refresh must not either); within one batch the earliest received_at,
-- preferring the row that carries the properties (a per-event table over the bare `tracks` table).
with

events as (

    select * from {{ ref('stg_segment__events') }}
    where {{ ingested_since_watermark() }}
        or {{ within_lookback('received_at') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by message_id
            order by
                {{ nulls_last(
                    "_ingested_at, received_at, case when table_name = 'tracks' then 1 else 0 end, _file, _line"
                ) }}
        ) as copy_number
    from events

),

final as (

    select
        message_id, message_type, event_slug, event_text, user_id, anonymous_id, occurred_at, received_at,
        properties, origin, source_schema, table_name, _file, _line, _batch_id, _ingested_at
    from ranked
    where copy_number = 1

)

select * from final
where {{ not_yet_loaded('message_id') }}
