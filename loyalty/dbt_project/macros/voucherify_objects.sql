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
        coalesce({{ json_text(doc, 'voucher.code') }}, {{ json_text(context, 'voucher.code') }}) as voucher_code,
        {%- else %}
        {{ json_text(doc, 'customer.source_id') }} as customer_source_id,
        coalesce({{ json_text(doc, 'voucher.campaign') }}, {{ json_text(doc, 'promotion_tier.campaign.name') }}) as campaign_name,
        {{ json_text(doc, 'voucher.code') }} as voucher_code,
        {%- endif %}
        coalesce({{ json_text(doc, 'voucher.id') }}, {{ json_text(doc, 'voucher_id') }}) as voucher_id,
        {{ json_text(doc, 'order.id') }} as order_id,
        {{ cents_to_amount(json_text(doc, 'order.applied_discount_amount')) }} as order_applied_discount_amount,
        {{ cents_to_amount(json_text(doc, 'order.discount_amount')) }} as order_discount_amount,
        {{ json_text(doc, 'channel.channel_type') }} as channel_type,
        {{ json_text(doc, 'related_object_type') }} as related_object_type,
        {{ json_text(doc, 'related_object_id') }} as related_object_id,
        {{ json_array_size(doc, 'related_redemptions.rollbacks') }} as related_rollbacks_count,
        {{ to_utc_timestamp(json_text(doc, 'related_redemptions.rollbacks[0].date')) }} as related_rollback_at,
        {{ json_text(doc, 'reason') }} as rollback_reason
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
        {{ json_text(doc, 'details.order.id') }} as order_id,
        {{ json_text(doc, 'source') }} as transaction_source,
        {{ json_text(doc, 'reason') }} as reason,
        {{ json_text(doc, 'related_transaction_id') }} as related_transaction_id,
        {{ to_utc_timestamp(json_text(doc, 'created_at')) }} as occurred_at
{%- endmacro %}

{#- An order object; money converted from cents. The store lives only in order.metadata. -#}
{% macro voucherify_order_columns(doc) -%}
        {{ json_text(doc, 'id') }} as order_id,
        {{ json_text(doc, 'source_id') }} as order_source_id,
        upper({{ json_text(doc, 'status') }}) as status,
        coalesce({{ json_text(doc, 'customer_id') }}, {{ json_text(doc, 'customer.id') }}) as customer_id,
        {{ json_text(doc, 'customer.source_id') }} as customer_source_id,
        {{ cents_to_amount(json_text(doc, 'amount')) }} as amount,
        {{ cents_to_amount(json_text(doc, 'total_discount_amount')) }} as total_discount_amount,
        {{ cents_to_amount(json_text(doc, 'total_amount')) }} as total_amount,
        {{ json_text_or_first(doc, 'metadata.location_id') }} as metadata_location_id,
        {{ json_text_or_first(doc, 'metadata.location') }} as metadata_location,
        {{ json_value(doc, 'items') }} as items,
        {{ to_utc_timestamp(json_text(doc, 'created_at')) }} as created_at,
        {{ to_utc_timestamp(json_text(doc, 'updated_at')) }} as updated_at
{%- endmacro %}
