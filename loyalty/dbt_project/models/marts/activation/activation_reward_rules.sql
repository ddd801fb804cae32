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
        cast({{ rule.get('limit') if rule.get('limit') is not none else 'null' }} as {{ dbt.type_bigint() }}) as publication_limit,
        {{ 'true' if rule.get('join_once') else 'false' }} as join_once
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not rules %}
    select
        cast(null as integer) as rule_position, cast(null as varchar) as rule_name, cast(null as varchar) as description,
        cast(null as varchar) as condition, cast(null as varchar) as campaign,
        cast(null as {{ dbt.type_bigint() }}) as publication_limit, cast(null as boolean) as join_once
    where false
    {%- endif %}

)

select
    rules.*,
    (select count(*) from qualifiers where qualifiers.rule_name = rules.rule_name) as qualifying_members
from rules
order by rule_position
