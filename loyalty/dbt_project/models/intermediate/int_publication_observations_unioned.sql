{{ config(materialized='incremental', unique_key='observation_key', on_schema_change='append_new_columns') }}
-- Every sighting of a publication, succeeded or failed (`result`): webhooks, publication exports (which carry no
-- publication id: null here, matched by voucher, customer and date in int_publications_deduped) and Voucherify's
-- Segment Event Cloud (both generations, macros/event_cloud.sql).
{%- set cloud = var('segment_event_cloud_events') %}
with

webhook_publications as (

    select
        publication_id, voucher_id, null as voucher_code, campaign_name, published_at, customer_id,
        customer_source_id, publication_channel, result, failure_code, failure_message, 1 as source_rank,
        'webhook:'
        || publication_id
        || ':'
        || coalesce(voucher_id, '')
        || ':'
        || event_id
        || ':'
        || coalesce(webhook_source_id, '') as observation_key,
        _ingested_at
    from {{ ref('stg_voucherify__webhook_publications') }}
    where {{ ingested_since_watermark() }}

),

export_publications as (

    select
        null, null, voucher_code, campaign_name, published_at, customer_id, customer_source_id,
        publication_channel, null, null, null, 2,
        'export:' || _file || ':' || cast(_line as {{ type_text() }}),
        _ingested_at
    from {{ ref('stg_voucherify__export_publications') }}
    where {{ ingested_since_watermark() }}

),

event_cloud_publications as (

    select
        {{ event_cloud_text('publication_id', 'publication') }},
        coalesce(
            {{ event_cloud_text('publication_voucher_id', 'publication') }},
            {{ text_or_first_element(event_cloud_text('publication_vouchers_id', 'publication')) }},
            {{ event_cloud_text('voucher_id') }}
        ),
        {{ event_cloud_first(['publication_voucher_code', 'voucher_code'], 'publication') }},
        {{ event_cloud_first(['publication_voucher_campaign', 'voucher_campaign', 'campaign_name'], 'publication') }},
        {{ to_utc_timestamp(event_cloud_text('publication_created_at', 'publication')) }},
        {{ event_cloud_first(['publication_customer_id', 'customer_id'], 'publication') }},
        coalesce(
            {{ event_cloud_first(['publication_customer_source_id', 'customer_source_id'], 'publication') }},
            customer_source_id
        ),
        {{ event_cloud_text('publication_channel', 'publication') }},
        upper({{ event_cloud_text('publication_result', 'publication') }}),
        {{ event_cloud_text('publication_failure_code', 'publication') }},
        {{ event_cloud_text('publication_failure_message', 'publication') }},
        3,
        'segment:' || message_id,
        _ingested_at
    from {{ ref('int_segment_events_identified') }}
    where event_slug in {{ sql_list(cloud.publication_succeeded + cloud.publication_failed) }}
        and {{ ingested_since_watermark() }}

),

unioned as (

    select * from webhook_publications
    union all
    select * from export_publications
    union all
    select * from event_cloud_publications

),

final as (

    select * from unioned
    where publication_id is not null or observation_key like 'export:%'
    qualify row_number() over (partition by observation_key order by {{ nulls_last('_ingested_at') }}) = 1

)

select * from final
where {{ not_yet_loaded('observation_key') }}
