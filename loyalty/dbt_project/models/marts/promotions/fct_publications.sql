-- One row per publication: a voucher (discount code or loyalty card) handed to a customer, or an attempt to that
-- failed (status FAILED: no voucher, the vendor's failure_code and failure_message).
with

publications as (

    select * from {{ ref('int_publications_deduped') }}

),

final as (

    select
        publication_id,
        published_at,
        customer_source_id,
        campaign_name,
        voucher_code,
        voucher_type,
        publication_channel as channel,
        status,
        failure_code,
        failure_message
    from publications

)

select * from final
