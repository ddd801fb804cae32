-- One row per validation (customer.validation.succeeded|failed, from webhooks and Voucherify's Segment Event
-- Cloud, already merged in fct_engagement_events): when, who, VALID or INVALID, the code (the validation's first
-- redeemable, else the one it found inapplicable), its campaign (the event's, else the voucher's with that code),
-- and whether it led to a redemption — the first successful redemption of that code by the same customer at or
-- after the validation (validated → redeemed).
with

validations as (

    select * from {{ ref('fct_engagement_events') }}
    where event_kind in ('validation_succeeded', 'validation_failed')

),

vouchers_by_code as (

    select voucher_code, campaign_name
    from {{ ref('int_vouchers_resolved') }}
    where voucher_code is not null
    qualify row_number() over (partition by voucher_code order by voucher_id asc nulls last) = 1

),

redemptions as (

    select redemption_id, redeemed_at, customer_source_id, voucher_code
    from {{ ref('fct_redemptions') }}
    where result = 'SUCCESS' and voucher_code is not null

),

first_redemptions as (

    select
        validations.event_key,
        redemptions.redemption_id,
        redemptions.redeemed_at
    from validations
    inner join redemptions
        on validations.customer_source_id = redemptions.customer_source_id
            and validations.voucher_code = redemptions.voucher_code
            and redemptions.redeemed_at >= validations.occurred_at
    qualify row_number() over (
            partition by validations.event_key
            order by redemptions.redeemed_at asc nulls last, redemptions.redemption_id asc nulls last
        ) = 1

),

final as (

    select
        coalesce(validations.validation_id, validations.event_key) as validation_id,
        validations.occurred_at as validated_at,
        validations.customer_source_id,
        case when validations.event_kind = 'validation_succeeded' then 'VALID' else 'INVALID' end as status,
        validations.voucher_code,
        coalesce(validations.campaign_name, vouchers_by_code.campaign_name) as campaign_name,
        first_redemptions.redemption_id,
        first_redemptions.redeemed_at,
        first_redemptions.redemption_id is not null as is_redeemed
    from validations
    left join vouchers_by_code
        on validations.voucher_code = vouchers_by_code.voucher_code
    left join first_redemptions
        on validations.event_key = first_redemptions.event_key

)

select * from final
