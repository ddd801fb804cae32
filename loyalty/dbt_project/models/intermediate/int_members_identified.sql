-- Members: customers who hold a loyalty card (were ever published a LOYALTY_CARD voucher, are named as the
-- holder of one, or have points moving on one), one row per customer_source_id.
with

card_publications as (

    select customer_source_id, voucher_id, published_at, last_ingested_at
    from {{ ref('int_publications_deduped') }}
    where voucher_type = 'LOYALTY_CARD'

),

held_cards as (

    select holder_customer_source_id as customer_source_id, voucher_id, null as published_at, last_ingested_at
    from {{ ref('int_vouchers_resolved') }}
    where voucher_type = 'LOYALTY_CARD'

),

ledger_holders as (

    select
        coalesce(transactions.customer_source_id, customers.customer_source_id, cards.holder_customer_source_id)
            as customer_source_id,
        transactions.voucher_id,
        null as published_at,
        transactions.last_ingested_at
    from {{ ref('int_loyalty_transactions_deduped') }} as transactions
    left join {{ ref('int_customers_identified') }} as customers
        on transactions.customer_id = customers.customer_id
    left join {{ ref('int_vouchers_resolved') }} as cards
        on transactions.voucher_id = cards.voucher_id

),

unioned as (

    select * from card_publications
    union all
    select * from held_cards
    union all
    select * from ledger_holders

),

final as (

    select
        customer_source_id,
        min(published_at) as joined_at,
        count(distinct voucher_id) as loyalty_cards,
        max(last_ingested_at) as last_ingested_at
    from unioned
    where customer_source_id is not null
    group by customer_source_id

)

select * from final
