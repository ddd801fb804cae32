-- Per campaign and UTC day: publications, redemptions by status, discount given, revenue of the paid
-- orders behind succeeded redemptions, and the publication → redemption conversion of that day's
-- publications (succeeded ones: a failed publication handed out nothing). Redemptions whose campaign
-- Voucherify could not resolve (some failures) have no campaign, and publications without a readable
-- date have no day: those are counted in fct_redemptions / fct_publications only.
with

publications as (

    select * from {{ ref('fct_publications') }}
    where campaign_name is not null
        and published_at is not null
        and status = 'SUCCEEDED'  -- a failed publication handed out nothing

),

redemptions as (

    select * from {{ ref('fct_redemptions') }}
    where campaign_name is not null

),

orders as (

    select order_id, total_amount from {{ ref('fct_orders') }}
    where is_paid

),

converted_vouchers as (

    select voucher_code, min(redeemed_at) as first_redeemed_at
    from redemptions
    where status in ('SUCCEEDED', 'ROLLED_BACK')
        and voucher_code is not null
    group by voucher_code

),

daily_publications as (

    select
        publications.campaign_name,
        {{ utc_day('publications.published_at') }} as day,
        count(*) as publications,
        cast(
            sum(
                case when converted_vouchers.first_redeemed_at >= publications.published_at then 1 else 0 end
            ) as {{ dbt.type_bigint() }}
        )
            as converted_publications
    from publications
    left join converted_vouchers
        on publications.voucher_code = converted_vouchers.voucher_code
    group by 1, 2

),

daily_redemptions as (

    select
        campaign_name,
        {{ utc_day('redeemed_at') }} as day,
        cast(sum(case when status = 'SUCCEEDED' then 1 else 0 end) as {{ dbt.type_bigint() }}) as redemptions_succeeded,
        cast(sum(case when status = 'FAILED' then 1 else 0 end) as {{ dbt.type_bigint() }}) as redemptions_failed,
        cast(sum(case when status = 'ROLLED_BACK' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as redemptions_rolled_back,
        sum(case when status = 'SUCCEEDED' then discount_amount else 0 end) as discount_given
    from redemptions
    group by 1, 2

),

-- each paid order counts once per campaign and day, however many of its redeemables the campaign had
daily_revenue as (

    select campaign_name, day, sum(total_amount) as revenue
    from (
        select distinct
            redemptions.campaign_name,
            {{ utc_day('redemptions.redeemed_at') }} as day,
            orders.order_id,
            orders.total_amount
        from redemptions
        inner join orders
            on redemptions.order_id = orders.order_id
        where redemptions.status = 'SUCCEEDED'
    ) as orders_behind_redemptions
    group by 1, 2

),

campaign_days as (

    select campaign_name, day from daily_publications
    union
    select campaign_name, day from daily_redemptions

),

final as (

    select
        keys.campaign_name,
        keys.day,
        coalesce(daily_publications.publications, 0) as publications,
        coalesce(daily_redemptions.redemptions_succeeded, 0) as redemptions_succeeded,
        coalesce(daily_redemptions.redemptions_failed, 0) as redemptions_failed,
        coalesce(daily_redemptions.redemptions_rolled_back, 0) as redemptions_rolled_back,
        cast(coalesce(daily_redemptions.discount_given, 0) as {{ type_money() }}) as discount_given,
        cast(coalesce(daily_revenue.revenue, 0) as {{ type_money() }}) as revenue,
        {{ exact_rate('daily_publications.converted_publications', 'daily_publications.publications') }}
            as conversion_rate
    from campaign_days as keys
    left join daily_publications
        on keys.campaign_name = daily_publications.campaign_name and keys.day = daily_publications.day
    left join daily_redemptions
        on keys.campaign_name = daily_redemptions.campaign_name and keys.day = daily_redemptions.day
    left join daily_revenue
        on keys.campaign_name = daily_revenue.campaign_name and keys.day = daily_revenue.day

)

select * from final
