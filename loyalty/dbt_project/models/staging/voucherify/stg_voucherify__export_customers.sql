-- Rows of Exports API `customer` downloads, with Voucherify's own aggregates to reconcile against.
with

source as (

    select * from {{ source('voucherify', 'voucherify_exports') }}
    where exported_object = 'customer'

),

renamed as (

    select
        {{ json_text('record', 'id') }} as customer_id,
        nullif({{ json_text('record', 'source_id') }}, '') as customer_source_id,
        nullif({{ json_text('record', 'name') }}, '') as customer_name,
        nullif({{ json_text('record', 'email') }}, '') as email,
        {{ to_utc_timestamp(json_text('record', 'created_at')) }} as created_at,
        {{ dbt.safe_cast(json_text('record', 'redemptions_total_succeeded'), 'bigint') }}
            as redemptions_total_succeeded,
        {{ dbt.safe_cast(json_text('record', 'redemptions_total_failed'), 'bigint') }} as redemptions_total_failed,
        {{ dbt.safe_cast(json_text('record', 'redemptions_total_rolled_back'), 'bigint') }}
            as redemptions_total_rolled_back,
        {{ cents_to_amount(json_text('record', 'orders_total_amount')) }} as orders_total_amount,
        {{ dbt.safe_cast(json_text('record', 'orders_total_count'), 'bigint') }} as orders_total_count,
        {{ dbt.safe_cast(json_text('record', 'loyalty_points'), 'bigint') }} as loyalty_points,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from source

)

select * from renamed
