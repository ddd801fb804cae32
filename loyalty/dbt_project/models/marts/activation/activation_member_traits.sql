-- One row per member: exactly the computed traits of macros/member_traits.sql, the values `loyalty push
-- voucherify` sends as the customer's metadata in Voucherify.
{%- set traits = member_traits() %}
select
    customer_source_id{% for trait in traits %},
    {{ trait.name }}{% endfor %}
from {{ ref('dim_members') }}
