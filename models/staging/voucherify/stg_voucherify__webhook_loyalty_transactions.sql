-- Loyalty (and gift-card) transactions carried by webhooks: transaction.created and the transaction inside
-- points_added / points_expired / pending_points.activated, one row per transaction per delivery.
-- Events without a transaction (customer.rewarded.loyalty_points, tier events) carry none and add nothing.
with

deliveries as (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}

),

transaction_objects as (

    select deliveries.*, {{ json_value('data', 'transaction') }} as doc, data as context
    from deliveries
    where envelope = 'v2024'

    union all

    select deliveries.*, data_object as doc, data_object as context
    from deliveries
    where envelope = 'v2018'
      and (data_object_type like '%transaction' or {{ json_text('data_object', 'id') }} like 'vtx\_%' escape '\')

),

renamed as (

    select
        {{ json_text('doc', 'id') }} as transaction_id,
        upper({{ json_text('doc', 'type') }}) as transaction_type,
        coalesce({{ json_text('doc', 'voucher_id') }}, {{ json_text('context', 'voucher.id') }}) as voucher_id,
        coalesce({{ json_text('doc', 'campaign_id') }}, {{ json_text('context', 'campaign.id') }}, {{ json_text('context', 'voucher.campaign_id') }}) as campaign_id,
        coalesce({{ json_text('context', 'customer.id') }}, {{ json_text('context', 'holder.id') }}, {{ json_text('context', 'voucher.holder_id') }}) as customer_id,
        coalesce({{ json_text('context', 'customer.source_id') }}, {{ json_text('context', 'holder.source_id') }}) as customer_source_id,
        -- signed change; points_added bodies sometimes leave details null and carry it in data.balance
        {{ dbt.safe_cast(
            "coalesce(" ~ json_text('doc', 'details.balance.points') ~ ", "
            ~ "case when " ~ json_text('doc', 'type') ~ " = 'POINTS_EXPIRATION' then '-' || " ~ json_text('context', 'points') ~ " end, "
            ~ json_text('context', 'balance.points') ~ ")",
            'bigint') }} as points,
        {{ dbt.safe_cast(
            "coalesce(" ~ json_text('doc', 'details.balance.balance') ~ ", " ~ json_text('context', 'balance.balance') ~ ")",
            'bigint') }} as balance_after,
        coalesce({{ json_text('doc', 'details.order.id') }}, {{ json_text('context', 'order.id') }}) as order_id,
        {{ json_text('doc', 'source') }} as transaction_source,
        {{ json_text('doc', 'reason') }} as reason,
        {{ json_text('doc', 'related_transaction_id') }} as related_transaction_id,
        {{ to_utc_timestamp(json_text('doc', 'created_at')) }} as occurred_at,
        event_id,
        webhook_source_id,
        event_type,
        event_created_at,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from transaction_objects
    where {{ json_text('doc', 'id') }} is not null

)

select * from renamed
