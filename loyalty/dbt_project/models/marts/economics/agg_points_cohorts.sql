-- One row per UTC month in which points were credited (the earn month): what became of them. Like Voucherify's
-- point buckets, every credit of a card (earning rules, and the refunds, manual additions and transfers in that
-- open buckets of their own) is spent first-in, first-out: each debit — burned, expired, or removed (manual and
-- return removals, transfers out) — takes the card's oldest points still held. Computed by overlapping each card's
-- running totals of credits and of debits in time order. A month has matured once it is over and none of its
-- points is held any more (spent, removed, or expired when its bucket reached expiry): only then is its breakage
-- final, and only then is breakage_rate given.
with

ledger as (

    select
        coalesce(voucher_id, customer_source_id) as card,
        transaction_id,
        occurred_at,
        movement,
        points
    from {{ ref('fct_loyalty_points') }}
    where points <> 0

),

{%- set card_order = "partition by card order by occurred_at asc nulls last, transaction_id asc nulls last"
    ~ " rows between unbounded preceding and current row" %}

credits as (

    select
        card,
        cast({{ dbt.date_trunc('month', 'occurred_at') }} as date) as earn_month,
        points,
        sum(points) over ({{ card_order }}) - points as starts_at,
        sum(points) over ({{ card_order }}) as ends_at
    from ledger
    where points > 0

),

debits as (

    select
        card,
        case movement when 'burned' then 'burned' when 'expired' then 'expired' else 'removed' end as spent_as,
        -sum(points) over ({{ card_order }}) + points as starts_at,
        -sum(points) over ({{ card_order }}) as ends_at
    from ledger
    where points < 0

),

-- the part of each debit that falls on each credit
spent as (

    select
        credits.earn_month,
        debits.spent_as,
        least(credits.ends_at, debits.ends_at) - greatest(credits.starts_at, debits.starts_at) as points
    from debits
    inner join credits
        on debits.card = credits.card
            and debits.starts_at < credits.ends_at
            and debits.ends_at > credits.starts_at

),

earned as (

    select earn_month, sum(points) as points_earned
    from credits
    group by earn_month

),

spent_by_month as (

    select
        earn_month,
        sum(case when spent_as = 'burned' then points else 0 end) as points_burned,
        sum(case when spent_as = 'expired' then points else 0 end) as points_expired,
        sum(case when spent_as = 'removed' then points else 0 end) as points_removed
    from spent
    group by earn_month

),

cohorts as (

    select
        earned.earn_month,
        cast(earned.points_earned as {{ dbt.type_bigint() }}) as points_earned,
        cast(coalesce(spent_by_month.points_burned, 0) as {{ dbt.type_bigint() }}) as points_burned,
        cast(coalesce(spent_by_month.points_expired, 0) as {{ dbt.type_bigint() }}) as points_expired,
        cast(coalesce(spent_by_month.points_removed, 0) as {{ dbt.type_bigint() }}) as points_removed
    from earned
    left join spent_by_month
        on earned.earn_month = spent_by_month.earn_month

),

final as (

    select
        cohorts.earn_month,
        cohorts.points_earned,
        cohorts.points_burned,
        cohorts.points_expired,
        cohorts.points_removed,
        cohorts.points_earned - cohorts.points_burned - cohorts.points_expired - cohorts.points_removed
            as outstanding_points,
        (
            cast({{ dbt.dateadd('month', 1, 'cohorts.earn_month') }} as date) <= data_days.last_day
            and cohorts.points_earned = cohorts.points_burned + cohorts.points_expired + cohorts.points_removed)
            as is_matured,
        {{ exact_rate('cohorts.points_burned', 'cohorts.points_earned') }} as redemption_rate,
        case
            when cast({{ dbt.dateadd('month', 1, 'cohorts.earn_month') }} as date) <= data_days.last_day
                and cohorts.points_earned = cohorts.points_burned + cohorts.points_expired + cohorts.points_removed
                then {{ exact_rate('cohorts.points_expired', 'cohorts.points_earned') }}
        end as breakage_rate
    from cohorts
    cross join {{ ref('int_data_days') }} as data_days

)

select * from final
