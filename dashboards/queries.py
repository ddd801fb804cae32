"""Every SQL statement the dashboards run, in one place, so the benchmark can time each page's queries.

All statements read the marts (and raw/ops tables on the data-health page), aggregate in SQL and take
user choices only as named parameters (`$name`), never by string formatting. The global filters bind as:

  $start, $end           TIMESTAMPTZ, the period [start, end) for timestamp columns
  $start_day, $end_day   DATE, the same period inclusive for the day-grained marts
  $prev_start            TIMESTAMPTZ, start of the equally long period just before (Overview deltas)
  $location, $campaign, $channel   text or NULL (NULL = all)

Which filter applies where: redemptions honour all four. Orders honour date and location; a campaign or
channel filter narrows them to orders behind a succeeded redemption of that campaign/channel (the
*_BY_CAMPAIGN statements; `orders_statement` picks one). Loyalty
points and location aggregates honour date and location; campaign performance honours date and campaign.
Tier movements honour the date only; points due to expire count from the period's last day ($end_day).
"""

from __future__ import annotations

from ingest.landing import freshness_sql
from loyalty.push.log import PUSH_LOG_SELECT, PUSH_RUNS_SELECT


def _utc_day(column: str) -> str:
    """The UTC date of a TIMESTAMPTZ column by epoch arithmetic: about 3x faster than a cast, which goes through ICU."""
    return f"(date '1970-01-01' + cast(floor(epoch({column}) / 86400) as integer))"


_ORDERS_FILTER = """
    and ($location is null or location_id = $location)
"""
# With a campaign or channel chosen, orders narrow to those behind a succeeded redemption matching them.
# A separate statement, not an `or`: DuckDB would run the semi-join even when both parameters are NULL.
_ORDERS_BY_CAMPAIGN_FILTER = """
    and ($location is null or location_id = $location)
    and order_id in (
        select order_id from marts.fct_redemptions
        where status = 'SUCCEEDED'
          and ($campaign is null or campaign_name = $campaign)
          and ($channel is null or channel_type = $channel))
"""

_REDEMPTIONS_FILTER = """
    and ($location is null or location_id = $location)
    and ($campaign is null or campaign_name = $campaign)
    and ($channel is null or channel_type = $channel)
"""

# ── filter choices ──────────────────────────────────────────────────────────────────────────────────
# First and last day of any fact a page can show: ledger rows (points expiring) or tier changes can come after
# the last order, and a period that ends before them would hide them from every selectable period.
DATA_RANGE = """
select min(first_day) as first_day, max(last_day) as last_day from (
    select cast(min(ordered_at) as date) as first_day, cast(max(ordered_at) as date) as last_day
    from marts.fct_orders
    union all select cast(min(redeemed_at) as date), cast(max(redeemed_at) as date) from marts.fct_redemptions
    union all select cast(min(occurred_at) as date), cast(max(occurred_at) as date) from marts.fct_loyalty_points
    union all select cast(min(published_at) as date), cast(max(published_at) as date) from marts.fct_publications
    union all select cast(min(changed_at) as date), cast(max(changed_at) as date) from marts.fct_tier_changes
    union all select min(day), max(day) from marts.agg_location_daily
    union all select min(day), max(day) from marts.fct_campaign_performance
)
"""
LOCATIONS = "select distinct location_id from marts.agg_location_daily where location_id is not null order by 1"
CAMPAIGNS = (
    "select distinct campaign_name from marts.fct_campaign_performance where campaign_name is not null order by 1"
)
CHANNELS = "select distinct channel_type from marts.fct_redemptions where channel_type is not null order by 1"

# ── Overview ────────────────────────────────────────────────────────────────────────────────────────
_OVERVIEW_ORDERS = """
with orders as (
    select case when ordered_at >= $start then 'current' else 'previous' end as period,
           total_amount, is_member
    from marts.fct_orders
    where ordered_at >= $prev_start and ordered_at < $end and is_paid
    {filter}
)
select period,
       count(*) as paid_orders,
       coalesce(sum(total_amount), 0) as revenue,
       coalesce(sum(total_amount) / nullif(count(*), 0), 0) as average_order_value,
       count(*) filter (where is_member) as member_orders,
       count(*) filter (where is_member) / nullif(count(*), 0) as member_share
from orders
group by period
"""
OVERVIEW_ORDERS = _OVERVIEW_ORDERS.format(filter=_ORDERS_FILTER)
OVERVIEW_ORDERS_BY_CAMPAIGN = _OVERVIEW_ORDERS.format(filter=_ORDERS_BY_CAMPAIGN_FILTER)

# Distinct customers is the one costly aggregate: counted for one period per statement (the page runs it
# for the period and for the previous one) so each statement stays within the latency budget.
_OVERVIEW_CUSTOMERS = """
select count(distinct customer_source_id) as customers
from marts.fct_orders
where ordered_at >= $start and ordered_at < $end and is_paid
{filter}
"""
OVERVIEW_CUSTOMERS = _OVERVIEW_CUSTOMERS.format(filter=_ORDERS_FILTER)
OVERVIEW_CUSTOMERS_BY_CAMPAIGN = _OVERVIEW_CUSTOMERS.format(filter=_ORDERS_BY_CAMPAIGN_FILTER)

OVERVIEW_REDEMPTIONS = f"""
select case when redeemed_at >= $start then 'current' else 'previous' end as period,
       count(*) filter (where status = 'SUCCEEDED') as redemptions_succeeded,
       count(*) filter (where status = 'FAILED') as redemptions_failed,
       count(*) filter (where status = 'ROLLED_BACK') as redemptions_rolled_back,
       count(*) filter (where status = 'FAILED') / nullif(count(*), 0) as failure_rate,
       coalesce(sum(discount_amount) filter (where status = 'SUCCEEDED'), 0) as discount_given
from marts.fct_redemptions
where redeemed_at >= $prev_start and redeemed_at < $end
{_REDEMPTIONS_FILTER}
group by period
"""

OVERVIEW_POINTS = """
select case when occurred_at >= $start then 'current' else 'previous' end as period,
       coalesce(sum(points) filter (where movement = 'earned'), 0) as points_earned,
       coalesce(-sum(points) filter (where movement = 'burned'), 0) as points_burned
from marts.fct_loyalty_points
where occurred_at >= $prev_start and occurred_at < $end
  and ($location is null or location_id = $location)
group by period
"""

_OVERVIEW_DAILY = """
select {day} as day,
       count(*) as paid_orders,
       sum(total_amount) as revenue
from marts.fct_orders
where ordered_at >= $start and ordered_at < $end and is_paid
{filter}
group by day
order by day
"""
OVERVIEW_DAILY = _OVERVIEW_DAILY.format(day=_utc_day("ordered_at"), filter=_ORDERS_FILTER)
OVERVIEW_DAILY_BY_CAMPAIGN = _OVERVIEW_DAILY.format(day=_utc_day("ordered_at"), filter=_ORDERS_BY_CAMPAIGN_FILTER)


def orders_statement(plain: str, by_campaign: str, campaign: str | None, channel: str | None) -> str:
    """The orders statement for the chosen filters: narrowed by campaign/channel only when one is chosen."""
    return by_campaign if campaign or channel else plain


# ── Redemptions ─────────────────────────────────────────────────────────────────────────────────────
REDEMPTIONS_DAILY = f"""
select {_utc_day("redeemed_at")} as day, status, count(*) as redemptions
from marts.fct_redemptions
where redeemed_at >= $start and redeemed_at < $end
{_REDEMPTIONS_FILTER}
group by day, status
order by day, status
"""

REDEMPTIONS_TOTALS = f"""
select status, count(*) as redemptions, sum(discount_amount) as discount_amount
from marts.fct_redemptions
where redeemed_at >= $start and redeemed_at < $end
{_REDEMPTIONS_FILTER}
group by status
order by status
"""

FAILURE_CODES = f"""
select coalesce(failure_code, '(none)') as failure_code,
       coalesce(failure_message, '') as failure_message,
       count(*) as failed_attempts,
       count(distinct customer_source_id) as customers
from marts.fct_redemptions
where redeemed_at >= $start and redeemed_at < $end and status = 'FAILED'
{_REDEMPTIONS_FILTER}
group by all
order by failed_attempts desc, failure_code, failure_message
"""

ROLLBACKS = f"""
select redemption_id, redeemed_at, rolled_back_at, customer_source_id, campaign_name, voucher_code,
       order_id, location_id, channel_type, discount_amount
from marts.fct_redemptions
where redeemed_at >= $start and redeemed_at < $end and status = 'ROLLED_BACK'
{_REDEMPTIONS_FILTER}
order by coalesce(rolled_back_at, redeemed_at) desc, redemption_id
limit 1000
"""

# Failed attempts: failed redemptions, and failed validations (a code checked and found invalid). Validations
# carry no location and no channel: they are "(no location)" and drop out when a location or channel is chosen.
_FAILED_ATTEMPTS = f"""
    select 'redemption' as attempt, redemption_id as attempt_id, redeemed_at as attempted_at, customer_source_id,
           coalesce(location_id, '(no location)') as location_id, failure_code, failure_message, voucher_code,
           campaign_name, channel_type, order_id
    from marts.fct_redemptions
    where redeemed_at >= $start and redeemed_at < $end and status = 'FAILED'
    {_REDEMPTIONS_FILTER}
    union all
    select 'validation', validation_id, validated_at, customer_source_id, '(no location)', null, null, voucher_code,
           campaign_name, null, null
    from marts.fct_validations
    where validated_at >= $start and validated_at < $end and status = 'INVALID'
      and $location is null and $channel is null
      and ($campaign is null or campaign_name = $campaign)
"""

# Many failed attempts by one customer at one location is a fraud signal (code guessing, abuse).
# Two steps: find the spots with a plain count, then the costly distinct counts for those spots only.
FAILED_HOT_SPOTS = f"""
with failed as ({_FAILED_ATTEMPTS}),
spots as (
    select customer_source_id, location_id
    from failed
    group by customer_source_id, location_id
    having count(*) >= $min_failed
)
select customer_source_id, location_id,
       count(*) as failed_attempts,
       count(*) filter (where attempt = 'validation') as failed_validations,
       count(distinct failure_code) as distinct_failure_codes,
       count(distinct voucher_code) as distinct_vouchers,
       min(attempted_at) as first_attempt_at,
       max(attempted_at) as last_attempt_at
from failed semi join spots using (customer_source_id, location_id)
group by customer_source_id, location_id
order by failed_attempts desc, customer_source_id, location_id
limit 200
"""

FAILED_DRILL_DOWN = f"""
with failed as ({_FAILED_ATTEMPTS})
select attempt, attempt_id, attempted_at, failure_code, failure_message, voucher_code, campaign_name,
       channel_type, order_id, location_id
from failed
where customer_source_id = $customer and location_id = $spot_location
order by attempted_at desc, attempt_id
limit 1000
"""

# Validated → redeemed: validations in the period (campaign filter only: they have no location or channel) and how
# many led to a redemption of the same code by the same customer (fct_validations.is_redeemed).
VALIDATION_FUNNEL = """
select count(*) as validations,
       count(*) filter (where status = 'VALID') as valid,
       count(*) filter (where status = 'VALID' and is_redeemed) as valid_then_redeemed,
       count(*) filter (where status = 'INVALID') as invalid,
       count(*) filter (where status = 'VALID' and is_redeemed) / nullif(count(*) filter (where status = 'VALID'), 0)
           as validated_to_redeemed_rate
from marts.fct_validations
where validated_at >= $start and validated_at < $end
  and ($campaign is null or campaign_name = $campaign)
"""

# ── Loyalty points ──────────────────────────────────────────────────────────────────────────────────
POINTS_DAILY = f"""
select {_utc_day("occurred_at")} as day, movement, sum(points) as points
from marts.fct_loyalty_points
where occurred_at >= $start and occurred_at < $end
  and ($location is null or location_id = $location)
group by day, movement
order by day, movement
"""

POINTS_TOTALS = """
select movement, count(*) as transactions, sum(points) as points
from marts.fct_loyalty_points
where occurred_at >= $start and occurred_at < $end
  and ($location is null or location_id = $location)
group by movement
order by movement
"""

# Liability: points held at the end of the period (the ledger's running sum), program-wide.
POINTS_LIABILITY = """
select coalesce(sum(points), 0) as outstanding_points
from marts.fct_loyalty_points
where occurred_at < $end
"""

MEMBERS_HOLDING_POINTS = "select count(*) as members from marts.dim_members where points_balance > 0"

# Points due to expire within N days after the period's last day: buckets still unexpired in the freshest
# points-expiration snapshot (fct_points_expiring) whose expiry day is $end_day … $end_day + N. Expiry day
# $end_day itself counts: still unexpired at the end of that day, Voucherify's daily job expires them next.
# Program-wide: buckets have no location.
POINTS_EXPIRING_WINDOWS = """
select coalesce(sum(points) filter (where expires_on <= $end_day + 30), 0) as due_30_days,
       coalesce(sum(points) filter (where expires_on <= $end_day + 60), 0) as due_60_days,
       coalesce(sum(points) filter (where expires_on <= $end_day + 90), 0) as due_90_days,
       count(distinct customer_source_id) filter (where expires_on <= $end_day + 90) as members_90_days,
       (select max(snapshot_loaded_at) from marts.fct_points_expiring) as snapshot_loaded_at
from marts.fct_points_expiring
where expires_on >= $end_day
"""

POINTS_EXPIRING_DAILY = """
select expires_on as day, count(distinct customer_source_id) as members, sum(points) as points
from marts.fct_points_expiring
where expires_on >= $end_day and expires_on <= $end_day + 90
group by expires_on
order by expires_on
"""

# ── Program economics ──────────────────────────────────────────────────────────────────────────────
# Reads the small economics aggregates (a row per day, per month × location, per earn month) and dim_members'
# one row per member for the before/after-joining summary: never the facts.
PROGRAM_AT_PERIOD_END = """
select day, members, active_members, active_member_rate, outstanding_points, point_value, point_value_source,
       liability_amount
from marts.agg_program_daily
where day <= $end_day
order by day desc
limit 1
"""

PROGRAM_PERIOD_POINTS = """
select coalesce(sum(points_earned), 0) as points_earned,
       coalesce(sum(points_burned), 0) as points_burned,
       coalesce(sum(points_expired), 0) as points_expired
from marts.agg_program_daily
where day between $start_day and $end_day
"""

PROGRAM_DAILY = """
select day, members, active_members, active_member_rate, outstanding_points, liability_amount
from marts.agg_program_daily
where day between $start_day and $end_day
order by day
"""

# Earn months overlapping the period.
POINTS_COHORTS = """
select earn_month, points_earned, points_burned, points_expired, points_removed, outstanding_points,
       redemption_rate, breakage_rate, is_matured
from marts.agg_points_cohorts
where earn_month between date_trunc('month', $start_day) and $end_day
order by earn_month
"""

# Months overlapping the period; the chosen location's rows, else the all-locations rows (location_id null).
MEMBER_LIFT_MONTHLY = """
select month, member_paid_orders, nonmember_paid_orders, member_revenue, nonmember_revenue, aov_member, aov_nonmember,
       aov_lift, orders_per_customer_member, orders_per_customer_nonmember
from marts.agg_member_lift_monthly
where month between date_trunc('month', $start_day) and $end_day
  and (location_id = $location or ($location is null and location_id is null))
order by month
"""

# Per location over the months overlapping the period: the months' orders and revenue summed, averages recomputed.
MEMBER_LIFT_BY_LOCATION = """
with per_location as (
    select location_id,
           sum(member_paid_orders) as member_paid_orders, sum(member_revenue) as member_revenue,
           sum(nonmember_paid_orders) as nonmember_paid_orders, sum(nonmember_revenue) as nonmember_revenue
    from marts.agg_member_lift_monthly
    where month between date_trunc('month', $start_day) and $end_day
      and location_id is not null
      and ($location is null or location_id = $location)
    group by location_id
)
select location_id, member_paid_orders, nonmember_paid_orders, member_revenue, nonmember_revenue,
       round(member_revenue / nullif(member_paid_orders, 0), 2) as aov_member,
       round(nonmember_revenue / nullif(nonmember_paid_orders, 0), 2) as aov_nonmember,
       round((member_revenue / nullif(member_paid_orders, 0))
             / nullif(nonmember_revenue / nullif(nonmember_paid_orders, 0), 0) - 1, 4) as aov_lift
from per_location
order by member_revenue + nonmember_revenue desc, location_id
"""

# Members who ordered in the 180 days before joining: their average basket and paid orders per 30 days, before and
# after (dim_members, as of the latest build; the period does not apply).
BEFORE_AFTER_JOINING = """
select count(*) as members,
       avg(avg_basket_before_joining) as avg_basket_before,
       avg(avg_basket_after_joining) as avg_basket_after,
       count(avg_basket_after_joining) as members_ordering_after,
       avg(orders_per_30_days_before_joining) as orders_per_30_days_before,
       avg(orders_per_30_days_after_joining) as orders_per_30_days_after
from marts.dim_members
where avg_basket_before_joining is not null
"""

# ── Retention ───────────────────────────────────────────────────────────────────────────────────────
# Join months overlapping the period (fct_member_cohorts: a row per join month × month since joining).
COHORT_RETENTION = """
select join_month, months_since_joining, cohort_size, active_members, retention, revenue, cumulative_revenue
from marts.fct_member_cohorts
where join_month between date_trunc('month', $start_day) and $end_day
order by join_month, months_since_joining
"""

REDEEMED_WITHIN_90_DAYS = """
select join_month, cohort_size, redeemed_within_90_days, redeemed_within_90_days_share
from marts.fct_member_cohorts
where months_since_joining = 0
  and join_month between date_trunc('month', $start_day) and $end_day
order by join_month
"""

# Members who joined in the period, by days from joining to their first redemption of points.
FIRST_REDEMPTION_BUCKETS = """
with joined as (
    select days_to_first_redemption as days
    from marts.dim_members
    where joined_at >= $start and joined_at < $end
)
select bucket, members
from (
    select case
               when days is null then 'not yet'
               when days <= 7 then '0-7 days'
               when days <= 30 then '8-30 days'
               when days <= 60 then '31-60 days'
               when days <= 90 then '61-90 days'
               else 'over 90 days'
           end as bucket,
           case
               when days is null then 6 when days <= 7 then 1 when days <= 30 then 2
               when days <= 60 then 3 when days <= 90 then 4 else 5
           end as position,
           count(*) as members
    from joined
    group by all
)
order by position
"""

FIRST_REDEMPTION_SUMMARY = """
select count(*) as members_joined,
       count(days_to_first_redemption) as members_redeemed,
       median(days_to_first_redemption) as median_days_to_first_redemption
from marts.dim_members
where joined_at >= $start and joined_at < $end
"""

# ── Locations ───────────────────────────────────────────────────────────────────────────────────────
# Locations and Campaigns read only the day × location and campaign × day aggregates, never the facts:
# their rows grow with days, not events (810 and 450 rows for 90 days at 318k deliveries), so these pages
# stay at a few ms however large the warehouse. Keep fact scans out of them.
# Redemptions without an order and ledger rows without one (adjustments, expiry) have no location.
LOCATION_RANKING = """
select coalesce(location_id, '(no location)') as location_id,
       sum(revenue) as revenue,
       sum(paid_orders) as paid_orders,
       sum(member_orders) / nullif(sum(paid_orders), 0) as member_share,
       sum(redemptions_succeeded) as redemptions_succeeded,
       sum(redemptions_failed) as redemptions_failed,
       sum(points_earned) as points_earned,
       sum(points_burned) as points_burned
from marts.agg_location_daily
where day between $start_day and $end_day
  and ($location is null or location_id = $location)
group by all
order by revenue desc, location_id
"""

LOCATION_DAILY = """
select day, location_id, sum(revenue) as revenue, sum(paid_orders) as paid_orders
from marts.agg_location_daily
where day between $start_day and $end_day
  and ($location is null or location_id = $location)
  and location_id is not null
group by day, location_id
having sum(paid_orders) > 0
order by day, location_id
"""

# ── Campaigns ───────────────────────────────────────────────────────────────────────────────────────
# conversion_rate is per publication day, so converted publications = publications × rate, summed.
CAMPAIGN_TOTALS = """
select campaign_name,
       sum(publications) as publications,
       coalesce(round(sum(publications * conversion_rate)), 0) as converted_publications,
       sum(redemptions_succeeded) + sum(redemptions_failed) + sum(redemptions_rolled_back) as redemption_attempts,
       sum(redemptions_succeeded) as redemptions_succeeded,
       sum(redemptions_failed) as redemptions_failed,
       sum(redemptions_rolled_back) as redemptions_rolled_back,
       sum(discount_given) as discount_given,
       sum(revenue) as revenue,
       sum(publications * conversion_rate) / nullif(sum(publications), 0) as conversion_rate
from marts.fct_campaign_performance
where day between $start_day and $end_day
  and ($campaign is null or campaign_name = $campaign)
group by campaign_name
order by revenue desc, campaign_name
"""

CAMPAIGN_DAILY = """
select day, campaign_name, sum(redemptions_succeeded) as redemptions_succeeded, sum(discount_given) as discount_given,
       sum(revenue) as revenue
from marts.fct_campaign_performance
where day between $start_day and $end_day
  and ($campaign is null or campaign_name = $campaign)
group by day, campaign_name
order by day, campaign_name
"""

# ── Members ─────────────────────────────────────────────────────────────────────────────────────────
TIER_DISTRIBUTION = """
select coalesce(current_tier, 'No tier') as tier,
       count(*) as members,
       sum(points_balance) as points_balance,
       avg(lifetime_order_amount) as average_lifetime_order_amount
from marts.dim_members
group by tier
order by members desc, tier
"""

# Tier movements in the period (fct_tier_changes): no location, campaign or channel applies.
TIER_MOVEMENTS_DAILY = f"""
select {_utc_day("changed_at")} as day, change_type, count(*) as changes
from marts.fct_tier_changes
where changed_at >= $start and changed_at < $end
group by day, change_type
order by day, change_type
"""

TIER_MOVEMENTS = """
select change_type,
       coalesce(tier_from, '(none)') as tier_from,
       coalesce(tier_to, '(none)') as tier_to,
       count(*) as changes,
       count(distinct customer_source_id) as members
from marts.fct_tier_changes
where changed_at >= $start and changed_at < $end
group by all
order by changes desc, change_type, tier_from, tier_to
"""

# Segments: key → (label, predicate over dim_members); `$end` anchors "lapsed" to the chosen period.
SEGMENTS = {
    "multi_store": ("Visited 3 or more stores", "distinct_locations_visited >= 3"),
    "frequent": ("5 or more paid orders", "orders_count >= 5"),
    "high_balance": ("1,000 or more points", "points_balance >= 1000"),
    "lapsed": (
        "No activity in the 30 days before the period end",
        "last_activity_at is null or last_activity_at < $end - interval 30 day",
    ),
    "no_orders": ("Member without a paid order", "coalesce(orders_count, 0) = 0"),
}
_SEGMENT_PREDICATE = (
    "case $segment " + " ".join(f"when '{key}' then ({predicate})" for key, (_, predicate) in SEGMENTS.items()) + " end"
)

SEGMENT_SIZES = (
    "select count(*) as members, "
    + ", ".join(f"count(*) filter (where {predicate}) as {key}" for key, (_, predicate) in SEGMENTS.items())
    + " from marts.dim_members"
)

SEGMENT_MEMBERS = f"""
select customer_source_id, email, current_tier, points_balance, orders_count, lifetime_order_amount,
       distinct_locations_visited, last_activity_at
from marts.dim_members
where {_SEGMENT_PREDICATE}
order by lifetime_order_amount desc nulls last, customer_source_id
limit 1000
"""

# RFM segments (dim_members.rfm_segment, mapping in docs/models.md): sizes, and each segment's members in full — the
# list a marketer sends to Voucherify or a campaign tool.
RFM_SEGMENT_ORDER = ["Champions", "Loyal", "New", "Promising", "At risk", "Hibernating", "No purchase"]
RFM_SEGMENTS = f"""
select rfm_segment, count(*) as members, avg(recency_days) as average_recency_days,
       avg(frequency) as average_frequency, sum(monetary) as monetary
from marts.dim_members
group by rfm_segment
order by {" ".join(["case rfm_segment"] + [f"when '{name}' then {i}" for i, name in enumerate(RFM_SEGMENT_ORDER)])}
         else {len(RFM_SEGMENT_ORDER)} end, rfm_segment
"""

RFM_SEGMENT_MEMBERS = """
select customer_source_id, email, first_name, last_name, phone, current_tier, recency_days, frequency, monetary,
       r_score, f_score, m_score, points_balance
from marts.dim_members
where rfm_segment = $rfm_segment
order by monetary desc, customer_source_id
"""

# Computed traits: the dim_members columns loyalty/dbt_project/macros/member_traits.sql adds after the member
# metrics. Their names come from the catalog (never from user input) and are quoted as identifiers.
MEMBER_METRIC_COLUMNS = (
    "customer_source_id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "postal_code",
    "registered_customer",
    "current_tier",
    "points_balance",
    "lifetime_points_earned",
    "lifetime_points_burned",
    "lifetime_points_expired",
    "orders_count",
    "lifetime_order_amount",
    "distinct_locations_visited",
    "first_order_at",
    "last_order_at",
    "last_activity_at",
    "joined_at",
    "first_redemption_at",
    "days_to_first_redemption",
    "avg_basket_before_joining",
    "avg_basket_after_joining",
    "orders_per_30_days_before_joining",
    "orders_per_30_days_after_joining",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
)
TRAIT_COLUMNS = """
select column_name, data_type
from information_schema.columns
where table_catalog = 'warehouse' and table_schema = 'marts' and table_name = 'dim_members'
order by ordinal_position
"""


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _has_trait(name: str, data_type: str) -> str:
    """A member has a boolean trait when it is true, a numeric one (counts, amounts) when it is above zero."""
    column = _identifier(name)
    return f"coalesce({column}, false)" if data_type.upper() == "BOOLEAN" else f"coalesce({column}, 0) > 0"


def trait_sizes(traits: list[tuple[str, str]]) -> str:
    """One row per computed trait: members having it."""
    parts = [
        f"select {i} as position, '{name.replace(chr(39), chr(39) * 2)}' as trait, "
        f"count(*) filter (where {_has_trait(name, data_type)}) as members from marts.dim_members"
        for i, (name, data_type) in enumerate(traits)
    ]
    return " union all ".join(parts) + " order by position"


def trait_members(name: str, data_type: str) -> str:
    return f"""
select customer_source_id, email, current_tier, {_identifier(name)} as trait_value, points_balance, orders_count,
       lifetime_order_amount, last_activity_at
from marts.dim_members
where {_has_trait(name, data_type)}
order by lifetime_order_amount desc nulls last, customer_source_id
limit 1000
"""


# A prefix of the id or email, any case; `%` and `_` are plain characters here (not LIKE wildcards).
MEMBER_SEARCH = """
select customer_source_id, email, current_tier, points_balance, orders_count
from marts.dim_members
where starts_with(lower(customer_source_id), lower($needle)) or starts_with(lower(email), lower($needle))
order by customer_source_id
limit 50
"""

MEMBER_PROFILE = """
select customer_source_id, email, current_tier, points_balance, lifetime_points_earned, lifetime_points_burned,
       lifetime_points_expired, orders_count, lifetime_order_amount, distinct_locations_visited,
       first_order_at, last_order_at, last_activity_at
from marts.dim_members
where customer_source_id = $customer
"""

MEMBER_TIMELINE = """
select ordered_at as happened_at, 'order' as kind, status as detail, location_id, total_amount as amount,
       points_earned as points, order_id as reference
from marts.fct_orders where customer_source_id = $customer
union all
select redeemed_at, 'redemption', status || coalesce(' · ' || failure_code, '') || coalesce(' · ' || campaign_name, ''),
       location_id, discount_amount, null, redemption_id
from marts.fct_redemptions where customer_source_id = $customer
union all
select occurred_at, 'points', movement || ' · ' || transaction_type, location_id, null, points, transaction_id
from marts.fct_loyalty_points where customer_source_id = $customer
order by happened_at desc, kind, reference
limit 2000
"""

# ── Data health ─────────────────────────────────────────────────────────────────────────────────────
# Ages are measured against now(), so the page runs this one uncached. Which column dates each source's
# records is the source registry's (ingest/landing.py), shared with `loyalty status`.
SOURCE_FRESHNESS = f"""
with freshness as ({freshness_sql()})
select source, rows, newest_record_at, last_loaded_at,
       round(epoch(now() - newest_record_at) / 3600, 1) as hours_since_newest_record,
       round(epoch(now() - last_loaded_at) / 3600, 1) as hours_since_last_load
from freshness
order by source
"""

ROWS_LOADED = """
select source, count(*) as files, sum(rows_loaded) as rows_loaded, sum(rows_rejected) as rows_rejected,
       max(loaded_at) as last_loaded_at
from raw.ingest_files
group by source
order by source
"""

INGEST_BATCHES = """
select batch_id, started_at, finished_at, status, files_loaded, rows_loaded, rows_rejected
from raw.ingest_batches
order by started_at desc
limit 20
"""

REJECTED_BY_REASON = """
select source, reason, count(*) as records, max(rejected_at) as last_rejected_at
from raw.rejected_records
group by source, reason
order by records desc, source, reason
"""

REJECTED_RECORDS = """
select rejected_at, source, file_path, line, reason, snippet
from raw.rejected_records
order by rejected_at desc, file_path, line
limit 500
"""

LAST_RUNS = """
select run_id, started_at, finished_at, outcome, full_refresh, rows_loaded, rows_rejected, stage_seconds, error
from ops.runs
order by started_at desc
limit 20
"""

RECONCILIATION_SUMMARY = """
select metric, count(*) as customers, count(*) filter (where difference <> 0) as mismatches,
       sum(abs(difference)) as total_absolute_difference
from marts.reconciliation
group by metric
order by metric
"""

RECONCILIATION_MISMATCHES = """
select customer_source_id, metric, warehouse_value, voucherify_value, difference
from marts.reconciliation
where difference <> 0
order by abs(difference) desc, customer_source_id, metric
limit 1000
"""


# ── Activation: what `loyalty push voucherify` sent ────────────────────────────────────────────────
# The statements read `push_runs` and `push_log` (shaped like ops.push_runs / ops.push_log), defined where the
# statement says {push}: from the push log beside the published warehouse ($push_log, always current) or from
# the ops tables folded into the build by its `loyalty run`.
def activation_statement(sql: str, from_log: bool) -> str:
    if from_log:
        return sql.format(push=f"push_runs as ({PUSH_RUNS_SELECT}), push_log as ({PUSH_LOG_SELECT})")
    return sql.format(push="push_runs as (from ops.push_runs), push_log as (from ops.push_log)")


LAST_PUSHES = """
with {push}
select push_id, started_at, finished_at, outcome, dry_run, scope, traits_changed, traits_updated, traits_failed,
       rewards_published, rewards_failed, rewards_waiting_for_limit, error
from push_runs
order by started_at desc
limit 20
"""

CUSTOMERS_UPDATED = """
with {push}
select count(distinct customer_source_id) as customers_updated,
       count(distinct customer_source_id) filter (
           where push_id = (select max(push_id) from push_runs where not dry_run)
       ) as customers_updated_last_push
from push_log
where kind = 'traits' and status = 'updated'
"""

REWARDS_PER_RULE = """
with {push},
published as (
    select subject as rule_name, count(distinct customer_source_id) as members_rewarded,
           max(last_at) as last_published_at
    from push_log
    where kind = 'reward' and status = 'published'
    group by subject
)
select rules.rule_name, rules.campaign, rules.publication_limit, rules.qualifying_members,
       coalesce(published.members_rewarded, 0) as members_rewarded, published.last_published_at
from marts.activation_reward_rules as rules
left join published on published.rule_name = rules.rule_name
order by rules.rule_position
"""

# Customers whose latest attempt (traits, or a rule's reward) failed: still waiting for the next push.
PUSH_FAILURES = """
with {push}
select last_at as failed_at, kind, subject, customer_source_id, error, request_id, push_id
from (
    select *, row_number() over (partition by kind, subject, customer_source_id order by last_at desc) as n
    from push_log
)
where n = 1 and status = 'failed'
order by failed_at desc, kind, subject, customer_source_id
limit 1000
"""

# A rule's qualifying members with their reward: published (with the voucher) or still to come.
RULE_QUALIFIERS = """
with {push},
rewarded as (
    select customer_source_id, arg_max(voucher_code, last_at) as voucher_code, max(last_at) as published_at
    from push_log
    where kind = 'reward' and subject = $rule and status = 'published'
    group by customer_source_id
)
select q.customer_source_id, q.email, q.current_tier, q.orders_count, q.lifetime_order_amount,
       q.distinct_locations_visited, q.last_order_at,
       case when rewarded.customer_source_id is null then 'to publish' else 'published' end as reward,
       rewarded.voucher_code, rewarded.published_at
from marts.activation_reward_qualifiers as q
left join rewarded on rewarded.customer_source_id = q.customer_source_id
where q.rule_name = $rule
order by q.customer_source_id
"""

# The queries each page runs, for the benchmark (`bench/`) and for tests that run them all.
PAGE_QUERIES: dict[str, dict[str, str]] = {
    "overview": {
        "orders": OVERVIEW_ORDERS,
        "orders_by_campaign": OVERVIEW_ORDERS_BY_CAMPAIGN,
        "customers": OVERVIEW_CUSTOMERS,
        "customers_by_campaign": OVERVIEW_CUSTOMERS_BY_CAMPAIGN,
        "redemptions": OVERVIEW_REDEMPTIONS,
        "points": OVERVIEW_POINTS,
        "daily": OVERVIEW_DAILY,
        "daily_by_campaign": OVERVIEW_DAILY_BY_CAMPAIGN,
    },
    "redemptions": {
        "daily": REDEMPTIONS_DAILY,
        "totals": REDEMPTIONS_TOTALS,
        "failure_codes": FAILURE_CODES,
        "rollbacks": ROLLBACKS,
        "hot_spots": FAILED_HOT_SPOTS,
        "drill_down": FAILED_DRILL_DOWN,
        "validation_funnel": VALIDATION_FUNNEL,
    },
    "loyalty_points": {
        "daily": POINTS_DAILY,
        "totals": POINTS_TOTALS,
        "liability": POINTS_LIABILITY,
        "members_holding_points": MEMBERS_HOLDING_POINTS,
        "expiring_windows": POINTS_EXPIRING_WINDOWS,
        "expiring_daily": POINTS_EXPIRING_DAILY,
    },
    "program_economics": {
        "at_period_end": PROGRAM_AT_PERIOD_END,
        "period_points": PROGRAM_PERIOD_POINTS,
        "daily": PROGRAM_DAILY,
        "points_cohorts": POINTS_COHORTS,
        "lift_monthly": MEMBER_LIFT_MONTHLY,
        "lift_by_location": MEMBER_LIFT_BY_LOCATION,
        "before_after_joining": BEFORE_AFTER_JOINING,
    },
    "retention": {
        "cohorts": COHORT_RETENTION,
        "redeemed_within_90_days": REDEEMED_WITHIN_90_DAYS,
        "first_redemption_buckets": FIRST_REDEMPTION_BUCKETS,
        "first_redemption_summary": FIRST_REDEMPTION_SUMMARY,
    },
    "locations": {"ranking": LOCATION_RANKING, "daily": LOCATION_DAILY},
    "campaigns": {"totals": CAMPAIGN_TOTALS, "daily": CAMPAIGN_DAILY},
    "members": {
        "tiers": TIER_DISTRIBUTION,
        "tier_movements_daily": TIER_MOVEMENTS_DAILY,
        "tier_movements": TIER_MOVEMENTS,
        "segment_sizes": SEGMENT_SIZES,
        "segment_members": SEGMENT_MEMBERS,
        "rfm_segments": RFM_SEGMENTS,
        "rfm_segment_members": RFM_SEGMENT_MEMBERS,
        "trait_columns": TRAIT_COLUMNS,
        "search": MEMBER_SEARCH,
        "profile": MEMBER_PROFILE,
        "timeline": MEMBER_TIMELINE,
    },
    "data_health": {
        "freshness": SOURCE_FRESHNESS,
        "rows_loaded": ROWS_LOADED,
        "batches": INGEST_BATCHES,
        "rejected_by_reason": REJECTED_BY_REASON,
        "rejected": REJECTED_RECORDS,
        "reconciliation_summary": RECONCILIATION_SUMMARY,
        "reconciliation_mismatches": RECONCILIATION_MISMATCHES,
        "last_pushes": activation_statement(LAST_PUSHES, from_log=False),
        "rewards_per_rule": activation_statement(REWARDS_PER_RULE, from_log=False),
        "push_failures": activation_statement(PUSH_FAILURES, from_log=False),
    },
}
