-- Rows of Exports API `voucher_transactions` downloads: `amount` is the signed points change,
-- `balance` the balance after it, `details` the transaction details as JSON text.
{%- set details = dbt.safe_cast(json_text('record', 'details'), 'json') %}
with

source as (

    select * from {{ source('voucherify', 'voucherify_exports') }}
    where exported_object = 'voucher_transactions'

),

renamed as (

    select
        {{ json_text('record', 'id') }} as transaction_id,
        upper(nullif({{ json_text('record', 'type') }}, '')) as transaction_type,
        nullif({{ json_text('record', 'voucher_id') }}, '') as voucher_id,
        nullif({{ json_text('record', 'campaign_id') }}, '') as campaign_id,
        {{ dbt.safe_cast(json_text('record', 'amount'), 'bigint') }} as points,
        {{ dbt.safe_cast(json_text('record', 'balance'), 'bigint') }} as balance_after,
        coalesce(
            {{ json_text(details, 'order.id') }},
            {{ order_id_in_text(json_text('record', 'reason')) }}
        ) as order_id,
        {{ json_text(details, 'earning_rule.id') }} as earning_rule_id,
        {{ json_text(details, 'earning_rule.source.banner') }} as earning_rule_name,
        {{ json_text(details, 'reward.id') }} as reward_id,
        {{ json_text(details, 'reward.name') }} as reward_name,
        nullif({{ json_text('record', 'source') }}, '') as transaction_source,
        nullif({{ json_text('record', 'reason') }}, '') as reason,
        nullif({{ json_text('record', 'related_transaction_id') }}, '') as related_transaction_id,
        {{ to_utc_timestamp(json_text('record', 'created_at')) }} as occurred_at,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source

)

select * from renamed
