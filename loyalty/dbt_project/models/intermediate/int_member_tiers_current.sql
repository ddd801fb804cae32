-- The current loyalty tier per customer: the latest tier event; after `left` the customer has none.
with

tier_events as (

    select
        coalesce(tier_events.customer_source_id, customers.customer_source_id) as customer_source_id,
        tier_events.tier_change,
        tier_events.tier_name,
        tier_events.occurred_at,
        tier_events.event_id
    from {{ ref('int_tier_events_deduped') }} as tier_events
    left join {{ ref('int_customers_identified') }} as customers
        on tier_events.customer_id = customers.customer_id

),

ranked as (

    select
        *,
        row_number()
            over (partition by customer_source_id order by {{ nulls_last('occurred_at desc, event_id desc') }})
            as recency
    from tier_events
    where customer_source_id is not null

),

final as (

    select
        customer_source_id,
        case when tier_change = 'left' then null else tier_name end as current_tier,
        tier_change as last_tier_change,
        occurred_at as tier_changed_at
    from ranked
    where recency = 1

)

select * from final
