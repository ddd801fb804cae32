{#- Triggered rewards pushed to Voucherify by `loyalty push voucherify`. THE place to add one: append an entry
    and run `loyalty build`; every member matching the condition gets exactly one publication from the
    campaign, once per rule, ever (see docs/activation.md).

    Each entry:
      name        the rule's identity (lowercase letters, digits, _). Part of each publication's source_id:
                  renaming a rule makes a new rule whose members are rewarded again.
      description what the reward is for (shown on the Data health page)
      condition   a SQL condition over the columns of marts.dim_members, computed traits included
                  (macros/member_traits.sql): to reward something dim_members lacks, add a trait first
      campaign    the Voucherify campaign (name or id) a voucher is published from
      limit       optional: at most this many members ever receive this reward (members beyond it wait,
                  taken in customer_source_id order, until the limit is raised)
      join_once   optional, true for a campaign set to "Customers can join campaign only once": publish with
                  ?join_once=true and no source_id (Voucherify's guidance for such campaigns)
-#}
{% macro reward_rules() %}
    {{ return([
        {"name": "third_store_visit",
         "description": "Thank-you voucher for a member's first paid order in a third different store.",
         "condition": "visited_3_plus_locations",
         "campaign": "Third Store Thank You"},
        {"name": "silver_tier_gift",
         "description": "A gift voucher for members in the Silver tier or above; the first 1,000 only.",
         "condition": "current_tier in ('Silver', 'Gold')",
         "campaign": "Tier Upgrade Gift",
         "limit": 1000},
    ]) }}
{% endmacro %}


{#- The rules, checked: a bad entry stops the build with a message naming it. -#}
{% macro checked_reward_rules() %}
    {%- set rules = reward_rules() %}
    {%- set seen = [] %}
    {%- for rule in rules %}
        {%- set name = rule.get('name') or '' %}
        {%- if not modules.re.fullmatch('[a-z0-9_]{1,64}', name) %}
            {{ exceptions.raise_compiler_error("reward_rules: rule name " ~ name ~ " must be 1-64 of a-z, 0-9, _") }}
        {%- endif %}
        {%- if name in seen %}
            {{ exceptions.raise_compiler_error("reward_rules: rule " ~ name ~ " is declared twice") }}
        {%- endif %}
        {%- do seen.append(name) %}
        {%- for key in ['condition', 'campaign'] %}
            {%- if not rule.get(key) %}
                {{ exceptions.raise_compiler_error("reward_rules: rule " ~ name ~ " has no " ~ key) }}
            {%- endif %}
        {%- endfor %}
        {%- set limit = rule.get('limit') %}
        {%- if limit is not none and not (limit is integer and limit > 0) %}
            {{ exceptions.raise_compiler_error("reward_rules: rule " ~ name ~ ": limit must be a whole number above 0") }}
        {%- endif %}
    {%- endfor %}
    {{ return(rules) }}
{% endmacro %}
