-- One row per triggered-reward rule of macros/reward_rules.sql, with how many members qualify now.
{%- set rules = checked_reward_rules() %}
with

qualifiers as (

    select * from {{ ref('activation_reward_qualifiers') }}

),

rules as (

    {%- for rule in rules %}
    select
        {{ loop.index }} as rule_position,
        '{{ rule.name }}' as rule_name,
        '{{ (rule.get('description') or '') | replace("'", "''") }}' as description,
        '{{ rule.condition | replace("'", "''") }}' as condition,
        '{{ rule.campaign | replace("'", "''") }}' as campaign,
        cast({{ rule.get('limit') if rule.get('limit') is not none else 'null' }} as {{ dbt.type_bigint() }})
            as publication_limit,
        {{ 'true' if rule.get('join_once') else 'false' }} as join_once
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not rules %}
    select
        cast(null as integer) as rule_position, cast(null as {{ type_text() }}) as rule_name,
        cast(null as {{ type_text() }}) as description, cast(null as {{ type_text() }}) as condition,
        cast(null as {{ type_text() }}) as campaign,
        cast(null as {{ dbt.type_bigint() }}) as publication_limit, cast(null as boolean) as join_once
    where false
    {%- endif %}

),

-- a join, not a correlated count: Spark's optimizer fails on a correlated subquery over this union
qualifying as (

    select rule_name, count(*) as qualifying_members from qualifiers group by rule_name

)

select
    rules.*,
    coalesce(qualifying.qualifying_members, 0) as qualifying_members
from rules
left join qualifying
    on rules.rule_name = qualifying.rule_name
order by rule_position
