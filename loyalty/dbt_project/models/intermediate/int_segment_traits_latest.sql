-- The profile traits the loyalty apps send with Segment identify calls, latest non-null value per trait and
-- user (Segment's `users` rows count too): the mobile app sends phone, first_name, last_name, email,
-- address.postalCode and metadata.registered_customer (flattened: address_postal_code,
-- metadata_registered_customer); the POS sends phone only.
with

identifies as (

    select
        customer_source_id,
        occurred_at,
        received_at,
        message_id,
        nullif(trim({{ json_text('properties', 'first_name') }}), '') as first_name,
        nullif(trim({{ json_text('properties', 'last_name') }}), '') as last_name,
        nullif(trim({{ json_text('properties', 'email') }}), '') as email,
        nullif(trim({{ json_text('properties', 'phone') }}), '') as phone,
        nullif(trim(coalesce(
            {{ json_text('properties', 'address_postal_code') }},
            {{ json_text('properties', 'postal_code') }}
        )), '') as postal_code,
        {{ dbt.safe_cast(json_text('properties', 'metadata_registered_customer'), 'boolean') }} as registered_customer
    from {{ ref('int_segment_events_identified') }}
    where message_type in ('identify', 'user')
        and customer_source_id is not null

),

{%- set latest = "occurred_at desc nulls last, received_at desc, message_id" %}

final as (

    select
        customer_source_id,
        {{ first_not_null('first_name', latest) }} as first_name,
        {{ first_not_null('last_name', latest) }} as last_name,
        {{ first_not_null('email', latest) }} as email,
        {{ first_not_null('phone', latest) }} as phone,
        {{ first_not_null('postal_code', latest) }} as postal_code,
        {{ first_not_null('registered_customer', latest) }} as registered_customer
    from identifies
    group by customer_source_id

)

select * from final
