-- Points per earning rule and per reward (rows with none counted as their own group) add up to the whole ledger:
-- attributing rows to rules and rewards neither drops nor repeats one.
with

ledger as (

    select coalesce(sum(points), 0) as points from {{ ref('fct_loyalty_points') }}

),

by_rule as (

    select coalesce(sum(points), 0) as points
    from (select earning_rule_id, sum(points) as points from {{ ref('fct_loyalty_points') }} group by earning_rule_id)
            as rules

),

by_reward as (

    select coalesce(sum(points), 0) as points
    from (select reward_id, sum(points) as points from {{ ref('fct_loyalty_points') }} group by reward_id) as rewards

)

select ledger.points as ledger_points, by_rule.points as rule_points, by_reward.points as reward_points
from ledger
cross join by_rule
cross join by_reward
where ledger.points <> by_rule.points or ledger.points <> by_reward.points
