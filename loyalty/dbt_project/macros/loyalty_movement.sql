{#- Loyalty transaction type (v1 and v2 programs) → movement. Unknown types stay null so the
    accepted_values test on fct_loyalty_points.movement flags them instead of guessing. -#}
{% macro loyalty_movement(transaction_type) -%}
    case
        when {{ transaction_type }} in ('POINTS_ACCRUAL', 'PENDING_POINTS_ACTIVATION', 'POINTS_EARNED') then 'earned'
        when {{ transaction_type }} in ('POINTS_REDEMPTION', 'POINTS_SPENT_ON_REWARD') then 'burned'
        when {{ transaction_type }} in ('POINTS_REFUND') then 'refunded'
        when {{ transaction_type }} in ('POINTS_EXPIRATION', 'POINTS_EXPIRED') then 'expired'
        when {{ transaction_type }} in ('POINTS_ADDITION', 'POINTS_REMOVAL', 'ADMIN_CREDIT', 'ADMIN_DEBIT') then 'adjusted'
        when {{ transaction_type }} in ('POINTS_TRANSFER_OUT', 'POINTS_TRANSFER_IN') then 'transferred'
    end
{%- endmacro %}
