-- Redemption and redemption-rollback objects carried by redemption webhooks, one row per object per
-- delivery. A rollback event carries both the rolled-back redemption and the rollback.
-- v2024: data.redemption / data.redemption_rollback (the event's other objects fill gaps); legacy
-- v2018: data.object.
with

-- Not materialized: several branches read it, and a materialized CTE would stop an incremental model's
-- `_ingested_at` filter from reaching the raw table, so every run would parse every delivery again.
deliveries {{ as_not_materialized() }} (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}
    where event_type like 'redemption.%'
        or event_type like 'customer.redemption.%'

),

redemption_objects as (

    select deliveries.*, {{ json_value('data', 'redemption') }} as doc, data as context
    from deliveries
    where envelope = 'v2024'

    union all

    select deliveries.*, {{ json_value('data', 'redemption_rollback') }} as doc, data as context
    from deliveries
    where envelope = 'v2024'

    union all

    select deliveries.*, data_object as doc, cast(null as {{ type_json() }}) as context
    from deliveries
    where envelope = 'v2018'

),

renamed as (

    select
        {{ voucherify_redemption_columns('doc', 'context') }},
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
