-- fct_member_cohorts' revenue over every cohort and month equals the revenue of the paid orders members placed as
-- members (fct_orders.is_member_at_order): no order lost, none counted twice.
with

cohorts as (

    select coalesce(sum(revenue), 0) as revenue from {{ ref('fct_member_cohorts') }}

),

orders as (

    select coalesce(sum(total_amount), 0) as revenue
    from {{ ref('fct_orders') }}
    where is_paid and is_member_at_order

)

select cohorts.revenue as cohort_revenue, orders.revenue as member_order_revenue
from cohorts
cross join orders
where cohorts.revenue <> orders.revenue
