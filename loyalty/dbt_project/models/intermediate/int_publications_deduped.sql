-- One row per publication (a voucher handed to a customer, or a failed attempt to) across webhooks, publication
-- exports and Voucherify's Segment Event Cloud, with the voucher's code, type and campaign and the status.
-- Webhooks and Event Cloud name the publication (pub_…); the vendor's publication export does not: an export
-- row is the same publication when it hands the same voucher code to the same customer in the same second, and
-- fills what the other channels left out. An export row no other channel names is a publication of its own,
-- keyed `export:<voucher code>:<customer>:<epoch ms>`.
with

unioned as (

    select * from {{ ref('int_publication_observations_unioned') }}

),

vouchers as (

    select * from {{ ref('int_vouchers_resolved') }}

),

vouchers_by_code as (

    select * from vouchers
    where voucher_code is not null
    qualify row_number() over (partition by voucher_code order by {{ nulls_last('voucher_id') }}) = 1

),

customers as (

    select * from {{ ref('int_customers_identified') }}

),

{%- set first_seen = "source_rank, _ingested_at, observation_key" %}

named as (

    select
        publication_id,
        {{ first_not_null('voucher_id', first_seen) }} as voucher_id,
        {{ first_not_null('voucher_code', first_seen) }} as voucher_code,
        {{ first_not_null('campaign_name', first_seen) }} as campaign_name,
        {{ first_not_null('published_at', first_seen) }} as published_at,
        {{ first_not_null('customer_id', first_seen) }} as customer_id,
        {{ first_not_null('customer_source_id', first_seen) }} as customer_source_id,
        {{ first_not_null('publication_channel', first_seen) }} as publication_channel,
        {{ first_not_null('result', first_seen) }} as result,
        {{ first_not_null('failure_code', first_seen) }} as failure_code,
        {{ first_not_null('failure_message', first_seen) }} as failure_message,
        max(_ingested_at) as last_ingested_at
    from unioned
    where publication_id is not null
    group by publication_id

),

named_resolved as (

    select
        named.publication_id,
        coalesce(named.voucher_id, vouchers_by_code.voucher_id) as voucher_id,
        coalesce(named.voucher_code, vouchers.voucher_code) as voucher_code,
        named.campaign_name,
        named.published_at,
        named.customer_id,
        coalesce(named.customer_source_id, customers.customer_source_id) as customer_source_id,
        named.publication_channel,
        named.result,
        named.failure_code,
        named.failure_message,
        named.last_ingested_at
    from named
    left join vouchers
        on named.voucher_id = vouchers.voucher_id
    left join vouchers_by_code
        on named.voucher_id is null
            and named.voucher_code = vouchers_by_code.voucher_code
    left join customers
        on named.customer_id = customers.customer_id

),

export_rows as (

    select
        unioned.*,
        coalesce(unioned.customer_source_id, customers.customer_source_id) as resolved_source_id
    from unioned
    left join customers
        on unioned.customer_id = customers.customer_id
    where unioned.publication_id is null
        and unioned.voucher_code is not null

),

export_rows_matched as (

    select
        export_rows.*,
        named_resolved.publication_id as matched_publication_id
    from export_rows
    left join named_resolved
        on export_rows.voucher_code = named_resolved.voucher_code
            and date_trunc('second', export_rows.published_at) = date_trunc('second', named_resolved.published_at)
            and (
                export_rows.resolved_source_id = named_resolved.customer_source_id
                or export_rows.customer_id = named_resolved.customer_id
            )
    qualify row_number()
            over (partition by export_rows.observation_key order by {{ nulls_last('named_resolved.publication_id') }})
        = 1

),

export_fills as (

    select
        matched_publication_id as publication_id,
        {{ first_not_null('campaign_name', '_ingested_at, observation_key') }} as campaign_name,
        {{ first_not_null('publication_channel', '_ingested_at, observation_key') }} as publication_channel,
        max(_ingested_at) as last_ingested_at
    from export_rows_matched
    where matched_publication_id is not null
    group by matched_publication_id

),

export_only as (

    select
        'export:' || voucher_code || ':' || coalesce(resolved_source_id, customer_id, '') || ':'
        || coalesce(cast({{ epoch_ms('published_at') }} as {{ type_text() }}), '') as publication_id,
        any_value(voucher_code) as voucher_code,
        {{ first_not_null('campaign_name', '_ingested_at, observation_key') }} as campaign_name,
        any_value(published_at) as published_at,
        {{ first_not_null('customer_id', '_ingested_at, observation_key') }} as customer_id,
        {{ first_not_null('resolved_source_id', '_ingested_at, observation_key') }} as customer_source_id,
        {{ first_not_null('publication_channel', '_ingested_at, observation_key') }} as publication_channel,
        max(_ingested_at) as last_ingested_at
    from export_rows_matched
    where matched_publication_id is null
    group by 1

),

publications as (

    select
        named_resolved.publication_id,
        named_resolved.voucher_id,
        named_resolved.voucher_code,
        coalesce(named_resolved.campaign_name, export_fills.campaign_name) as campaign_name,
        named_resolved.published_at,
        named_resolved.customer_id,
        named_resolved.customer_source_id,
        coalesce(named_resolved.publication_channel, export_fills.publication_channel) as publication_channel,
        named_resolved.result,
        named_resolved.failure_code,
        named_resolved.failure_message,
        greatest(named_resolved.last_ingested_at, export_fills.last_ingested_at) as last_ingested_at
    from named_resolved
    left join export_fills
        on named_resolved.publication_id = export_fills.publication_id

    union all

    select
        export_only.publication_id,
        vouchers_by_code.voucher_id,
        export_only.voucher_code,
        export_only.campaign_name,
        export_only.published_at,
        export_only.customer_id,
        export_only.customer_source_id,
        export_only.publication_channel,
        null as result,
        null as failure_code,
        null as failure_message,
        export_only.last_ingested_at
    from export_only
    left join vouchers_by_code
        on export_only.voucher_code = vouchers_by_code.voucher_code

),

final as (

    select
        publications.publication_id,
        publications.voucher_id,
        publications.voucher_code,
        vouchers.voucher_type,
        coalesce(publications.campaign_name, vouchers.campaign_name) as campaign_name,
        publications.published_at,
        publications.customer_id,
        publications.customer_source_id,
        publications.publication_channel,
        -- an export lists what was handed out; a failed publication is reported as such by its events
        case when publications.result = 'FAILURE' then 'FAILED' else 'SUCCEEDED' end as status,
        publications.failure_code,
        publications.failure_message,
        publications.last_ingested_at
    from publications
    left join vouchers
        on publications.voucher_id = vouchers.voucher_id

)

select * from final
