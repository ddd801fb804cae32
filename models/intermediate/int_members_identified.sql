-- Members: customers who hold a loyalty card (were ever published a LOYALTY_CARD voucher, or are the
-- holder of one), one row per customer_source_id with the card(s) and when they joined.
with

card_publications as (

    select customer_source_id, voucher_id, published_at
    from {{ ref('int_publications_deduped') }}
    where voucher_type = 'LOYALTY_CARD'

),

held_cards as (

    select holder_customer_source_id as customer_source_id, voucher_id, null as published_at
    from {{ ref('int_vouchers_resolved') }}
    where voucher_type = 'LOYALTY_CARD'

),

unioned as (

    select * from card_publications
    union all
    select * from held_cards

),

final as (

    select
        customer_source_id,
        min(published_at) as joined_at,
        count(distinct voucher_id) as loyalty_cards
    from unioned
    where customer_source_id is not null
    group by customer_source_id

)

select * from final
