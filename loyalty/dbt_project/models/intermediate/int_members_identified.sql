-- Members: customers who hold a loyalty card (were ever published a LOYALTY_CARD voucher, are named as the
-- holder of one, or have points moving on one), one row per customer_source_id. `joined_at`: when they got the
-- card — its publication or their joining a tier of the program (customer.loyalty.tier.joined), the earliest.
with

card_publications as (

    select customer_source_id, voucher_id, published_at, last_ingested_at
    from {{ ref('int_publications_deduped') }}
    where voucher_type = 'LOYALTY_CARD' and status = 'SUCCEEDED'

),

tier_joins as (

    select
        coalesce(tiers.customer_source_id, customers.customer_source_id) as customer_source_id,
        min(tiers.occurred_at) as joined_tier_at,
        max(tiers._ingested_at) as last_ingested_at
    from {{ ref('int_tier_events_deduped') }} as tiers
    left join {{ ref('int_customers_identified') }} as customers
        on tiers.customer_id = customers.customer_id
    where tiers.tier_change = 'joined'
    group by 1

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

cards as (

    select
        customer_source_id,
        min(published_at) as card_published_at,
        count(distinct voucher_id) as loyalty_cards,
        max(last_ingested_at) as last_ingested_at
    from unioned
    where customer_source_id is not null
    group by customer_source_id

),

final as (

    select
        cards.customer_source_id,
        -- least() skips a null: the one that is known, else the earlier
        least(cards.card_published_at, tier_joins.joined_tier_at) as joined_at,
        cards.loyalty_cards,
        greatest(cards.last_ingested_at, tier_joins.last_ingested_at) as last_ingested_at
    from cards
    left join tier_joins
        on cards.customer_source_id = tier_joins.customer_source_id

)

select * from final
