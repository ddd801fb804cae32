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
        {{ voucherify_redemption_columns('doc') }},
        -- failures often leave voucher and campaign out of the redemption; the event's own objects fill in
        case when envelope = 'v2024' then {{ json_text('data', 'customer.source_id') }} end as event_customer_source_id,
        case when envelope = 'v2024' then coalesce({{ json_text('data', 'campaign.name') }}, {{ json_text('data', 'voucher.campaign') }}) end as event_campaign_name,
        case when envelope = 'v2024' then {{ json_text('data', 'voucher.code') }} end as event_voucher_code,
        carried_as,
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

),

final as (

    select
        * exclude (customer_source_id, campaign_name, voucher_code, object_type, event_customer_source_id, event_campaign_name, event_voucher_code),
        coalesce(object_type, carried_as) as object_type,
        coalesce(customer_source_id, event_customer_source_id) as customer_source_id,
        coalesce(campaign_name, event_campaign_name) as campaign_name,
        coalesce(voucher_code, event_voucher_code) as voucher_code
    from renamed

)

select * from final
