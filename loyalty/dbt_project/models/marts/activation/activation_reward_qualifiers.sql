-- One row per reward rule × member who meets its condition now (macros/reward_rules.sql). Whether the member
-- was already rewarded is in the push log (ops.push_log), not here: this is who qualifies in this build.
{%- set rules = checked_reward_rules() %}
with

members as (

    select * from {{ ref('dim_members') }}

)

{%- for rule in rules %}
select
    '{{ rule.name }}' as rule_name,
    '{{ rule.campaign | replace("'", "''") }}' as campaign,
    customer_source_id,
    email,
    current_tier,
    orders_count,
    lifetime_order_amount,
    distinct_locations_visited,
    last_order_at
from members
where coalesce(({{ rule.condition }}), false)
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
{%- if not rules %}
select
    cast(null as {{ type_text() }}) as rule_name,
    cast(null as {{ type_text() }}) as campaign,
    customer_source_id,
    email,
    current_tier,
    orders_count, lifetime_order_amount, distinct_locations_visited, last_order_at
from members
where false
{%- endif %}
