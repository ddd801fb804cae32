{#- Column lists for Voucherify objects, shared by every channel that carries the same object as JSON
    (webhook bodies, API list pulls), so a redemption means the same thing wherever it came from. -#}

{#- A redemption or redemption_rollback object; `context` is the object around it (a webhook's data),
    whose customer, campaign and voucher fill what the redemption left out (failures often do). -#}
{% macro voucherify_redemption_columns(doc, context=none) -%}
        {{ json_text(doc, 'id') }} as redemption_id,
        {{ json_text(doc, 'object') }} as object_type,
        -- a stack child names its parent here, and a rollback the redemption it rolls back
        {{ json_text(doc, 'redemption') }} as parent_redemption_id,
        {{ to_utc_timestamp(json_text(doc, 'date')) }} as redeemed_at,
        upper({{ json_text(doc, 'result') }}) as result,
        {{ json_text(doc, 'status') }} as status_as_sent,
        {{ json_text(doc, 'failure_code') }} as failure_code,
        {{ json_text(doc, 'failure_message') }} as failure_message,
        coalesce({{ json_text(doc, 'customer_id') }}, {{ json_text(doc, 'customer.id') }}) as customer_id,
        {%- if context is not none %}
        coalesce({{ json_text(doc, 'customer.source_id') }}, {{ json_text(context, 'customer.source_id') }}) as customer_source_id,
        coalesce({{ json_text(doc, 'voucher.campaign') }}, {{ json_text(doc, 'promotion_tier.campaign.name') }},
            {{ json_text(context, 'campaign.name') }}, {{ json_text(context, 'voucher.campaign') }}) as campaign_name,
        coalesce({{ json_text(doc, 'voucher.campaign_id') }}, {{ json_text(doc, 'promotion_tier.campaign.id') }},
            {{ json_text(doc, 'promotion_tier.campaign_id') }}, {{ json_text(context, 'campaign.id') }},
            {{ json_text(context, 'voucher.campaign_id') }}) as campaign_id,
        coalesce({{ json_text(doc, 'voucher.code') }}, {{ json_text(context, 'voucher.code') }}) as voucher_code,
        {%- else %}
        {{ json_text(doc, 'customer.source_id') }} as customer_source_id,
        coalesce({{ json_text(doc, 'voucher.campaign') }}, {{ json_text(doc, 'promotion_tier.campaign.name') }}) as campaign_name,
        coalesce({{ json_text(doc, 'voucher.campaign_id') }}, {{ json_text(doc, 'promotion_tier.campaign.id') }},
            {{ json_text(doc, 'promotion_tier.campaign_id') }}) as campaign_id,
        {{ json_text(doc, 'voucher.code') }} as voucher_code,
        {%- endif %}
        coalesce({{ json_text(doc, 'promotion_tier.id') }},
            case when {{ json_text(doc, 'related_object_type') }} = 'promotion_tier' then {{ json_text(doc, 'related_object_id') }} end
        ) as promotion_tier_id,
        coalesce({{ json_text(doc, 'voucher.id') }}, {{ json_text(doc, 'voucher_id') }}) as voucher_id,
        {{ json_text(doc, 'order.id') }} as order_id,
        {{ applied_discount(
            cents_to_amount(json_text(doc, 'order.total_applied_discount_amount')),
            cents_to_amount(json_text(doc, 'order.applied_discount_amount')),
            cents_to_amount(json_text(doc, 'order.items_applied_discount_amount')),
            cents_to_amount(json_text(doc, 'order.total_discount_amount')),
            cents_to_amount(json_text(doc, 'order.discount_amount')),
            cents_to_amount(json_text(doc, 'order.items_discount_amount'))) }} as applied_discount_amount,
        coalesce({{ json_text_or_first(doc, 'order.metadata.location_id') }},
            {{ json_text_or_first(doc, 'order.metadata.location') }}) as order_location_id,
        {{ redemption_metadata_location(doc) }} as redemption_location_id,
        {{ json_text(doc, 'channel.channel_type') }} as channel_type,
        {{ json_text(doc, 'related_object_type') }} as related_object_type,
        {{ json_text(doc, 'related_object_id') }} as related_object_id,
        {{ json_array_size(doc, 'related_redemptions.rollbacks') }} as related_rollbacks_count,
        {{ to_utc_timestamp(json_text(doc, 'related_redemptions.rollbacks[0].date')) }} as related_rollback_at,
        {{ json_text(doc, 'reason') }} as rollback_reason
{%- endmacro %}

{#- The discount a redemption applied, as its order copy states it (currency units; null when the copy states
    none). The vendor splits it into order-level `applied_discount_amount` and product-level
    `items_applied_discount_amount`, with `total_applied_discount_amount` their sum; a copy without the
    `applied` fields (older records, a single redeemable) states the order's own discount instead:
    `total_discount_amount` = `discount_amount` + `items_discount_amount`. Absent keys mean zero only when a
    sibling of the same pair is present. -#}
{% macro applied_discount(total_applied, applied, items_applied, total, order_level, items) -%}
    coalesce(
        {{ total_applied }},
        case when {{ applied }} is not null or {{ items_applied }} is not null
            then coalesce({{ applied }}, 0) + coalesce({{ items_applied }}, 0) end,
        {{ total }},
        case when {{ order_level }} is not null or {{ items }} is not null
            then coalesce({{ order_level }}, 0) + coalesce({{ items }}, 0) end
    )
{%- endmacro %}

{#- Where a redemption happened when it names no located order: the POS and the vendor's examples put it in
    the redemption's own metadata, as `location_id` (text, or an array that may be empty), `location`, or
    `redemption_location.city`. -#}
{% macro redemption_metadata_location(doc) -%}
    coalesce({{ json_text_or_first(doc, 'metadata.location_id') }}, {{ json_text_or_first(doc, 'metadata.location') }},
        nullif(trim({{ json_text(doc, 'metadata.redemption_location.city') }}), ''))
{%- endmacro %}

{#- The Voucherify order id (ord_…) a free text names, e.g. the POS's return removal reason
    "Return products … from order: ord_…". -#}
{% macro order_id_in_text(expr) -%}
    nullif(regexp_extract({{ expr }}, 'ord_[A-Za-z0-9]+', 0), '')
{%- endmacro %}

{#- A loyalty-card or gift-card transaction (vtx_…); `context` is the object around it (a webhook's data)
    for the customer and for bodies that leave `details` null. -#}
{% macro voucherify_transaction_columns(doc, context=none) -%}
        {%- set ctx = context if context is not none else doc -%}
        {{ json_text(doc, 'id') }} as transaction_id,
        upper({{ json_text(doc, 'type') }}) as transaction_type,
        coalesce({{ json_text(doc, 'voucher_id') }}, {{ json_text(ctx, 'voucher.id') }}) as voucher_id,
        coalesce({{ json_text(doc, 'campaign_id') }}, {{ json_text(ctx, 'campaign.id') }}, {{ json_text(ctx, 'voucher.campaign_id') }}) as campaign_id,
        coalesce({{ json_text(ctx, 'customer.id') }}, {{ json_text(ctx, 'holder.id') }}, {{ json_text(ctx, 'voucher.holder_id') }}) as customer_id,
        coalesce({{ json_text(ctx, 'customer.source_id') }}, {{ json_text(ctx, 'holder.source_id') }}) as customer_source_id,
        -- signed change; points_added bodies sometimes leave details null and carry it in data.balance
        {{ dbt.safe_cast(
            "coalesce(" ~ json_text(doc, 'details.balance.points') ~ ", "
            ~ "case when upper(" ~ json_text(doc, 'type') ~ ") = 'POINTS_EXPIRATION' then '-' || " ~ json_text(ctx, 'points') ~ " end, "
            ~ json_text(ctx, 'balance.points') ~ ")",
            'bigint') }} as points,
        {{ dbt.safe_cast(
            "coalesce(" ~ json_text(doc, 'details.balance.balance') ~ ", " ~ json_text(ctx, 'balance.balance') ~ ")",
            'bigint') }} as balance_after,
        -- the order it belongs to; a manual removal (the POS's return) names it only in its reason
        coalesce({{ json_text(doc, 'details.order.id') }}, {{ order_id_in_text(json_text(doc, 'reason')) }}) as order_id,
        {{ json_text(doc, 'details.earning_rule.id') }} as earning_rule_id,
        {{ json_text(doc, 'details.earning_rule.source.banner') }} as earning_rule_name,
        {{ json_text(doc, 'details.reward.id') }} as reward_id,
        {{ json_text(doc, 'details.reward.name') }} as reward_name,
        {{ json_text(doc, 'source') }} as transaction_source,
        {{ json_text(doc, 'reason') }} as reason,
        {{ json_text(doc, 'related_transaction_id') }} as related_transaction_id,
        {{ to_utc_timestamp(json_text(doc, 'created_at')) }} as occurred_at
{%- endmacro %}

{#- An order object; money converted from cents. The store lives only in order.metadata. The order's discount
    is `total_discount_amount`, else its parts `discount_amount` (whole cart) + `items_discount_amount` (order
    lines); all absent means no discount. -#}
{% macro voucherify_order_columns(doc) -%}
        {{ json_text(doc, 'id') }} as order_id,
        {{ json_text(doc, 'source_id') }} as order_source_id,
        upper({{ json_text(doc, 'status') }}) as status,
        coalesce({{ json_text(doc, 'customer_id') }}, {{ json_text(doc, 'customer.id') }}) as customer_id,
        {{ json_text(doc, 'customer.source_id') }} as customer_source_id,
        {{ cents_to_amount(json_text(doc, 'amount')) }} as amount,
        {{ order_discount(
            cents_to_amount(json_text(doc, 'total_discount_amount')),
            cents_to_amount(json_text(doc, 'discount_amount')),
            cents_to_amount(json_text(doc, 'items_discount_amount'))) }} as total_discount_amount,
        {{ cents_to_amount(json_text(doc, 'total_amount')) }} as total_amount,
        {{ json_text_or_first(doc, 'metadata.location_id') }} as metadata_location_id,
        {{ json_text_or_first(doc, 'metadata.location') }} as metadata_location,
        -- the POS's replacement order after a return names the order it replaces
        coalesce({{ json_text(doc, 'metadata.originOrderId') }}, {{ json_text(doc, 'metadata.origin_order_id') }}) as origin_order_id,
        {{ json_value(doc, 'items') }} as items,
        {{ to_utc_timestamp(json_text(doc, 'created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text(doc, 'updated_at')) }} as updated_at
{%- endmacro %}

{% macro order_discount(total, order_level, items) -%}
    coalesce({{ total }}, case when {{ order_level }} is not null or {{ items }} is not null
        then coalesce({{ order_level }}, 0) + coalesce({{ items }}, 0) end)
{%- endmacro %}
