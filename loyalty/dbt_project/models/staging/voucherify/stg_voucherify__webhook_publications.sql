-- Publications (a voucher handed to a customer) carried by webhooks: publication.succeeded,
-- voucher.published, customer.publication.succeeded|failed, distributions and reward completions. A failed one
-- (`result` FAILURE, with failure_code and failure_message) handed out no voucher.
-- One row per publication × published voucher per delivery.
with

-- Not materialized: several branches read it, and a materialized CTE would stop an incremental model's
-- `_ingested_at` filter from reaching the raw table, so every run would parse every delivery again.
deliveries {{ as_not_materialized() }} (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}

),

publication_objects as (

    select deliveries.*, {{ json_value('data', 'publication') }} as doc, data as context
    from deliveries
    where envelope = 'v2024'

    union all

    select deliveries.*, data_object as doc, data_object as context
    from deliveries
    where envelope = 'v2018' and data_object_type = 'publication'

),

{%- set voucher_ids %}
            case
                when {{ json_array_size('doc', 'vouchers_id') }} > 0 then {{ json_text_list('doc', 'vouchers_id') }}
                else {{ list_of(['coalesce(' ~ json_text('doc', 'voucher.id') ~ ', ' ~ json_text('context', 'voucher.id') ~ ')']) }}
            end
{%- endset %}

with_voucher_ids as (

    select
        publication_objects.*,
        {{ unnest_list(voucher_ids) }} as voucher_id
    from publication_objects
    where {{ json_text('doc', 'id') }} is not null

),

renamed as (

    select
        {{ json_text('doc', 'id') }} as publication_id,
        voucher_id,
        {{ to_utc_timestamp(json_text('doc', 'created_at')) }} as published_at,
        upper({{ json_text('doc', 'result') }}) as result,
        {{ json_text('doc', 'failure_code') }} as failure_code,
        {{ json_text('doc', 'failure_message') }} as failure_message,
        coalesce({{ json_text('context', 'campaign.name') }}, {{ json_text('doc', 'voucher.campaign') }})
            as campaign_name,
        {{ json_text('doc', 'channel') }} as publication_channel,
        coalesce({{ json_text('doc', 'customer_id') }}, {{ json_text('doc', 'customer.id') }}) as customer_id,
        coalesce(
            {{ json_text('doc', 'customer.source_id') }}, {{ json_text('context', 'customer.source_id') }}
        ) as customer_source_id,
        event_id,
        webhook_source_id,
        event_type,
        event_created_at,
        _file,
        _line,
        _batch_id,
        _ingested_at

    from with_voucher_ids

)

select * from renamed
