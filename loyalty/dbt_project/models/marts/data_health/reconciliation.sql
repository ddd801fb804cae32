-- The warehouse's totals per customer against Voucherify's own aggregates in the latest customer export:
-- one row per customer × metric. A non-zero difference means facts the warehouse never received (a lost
-- webhook) or history from before the data the warehouse holds.
with

latest_export as (

    select * from {{ ref('stg_voucherify__export_customers') }}
    where customer_source_id is not null
    qualify row_number()
            over (
                partition by customer_source_id order by {{ nulls_last('_ingested_at desc, _file desc, _line desc') }}
            )
        = 1

),

redemptions as (

    select
        customer_source_id,
        cast(sum(case when status = 'SUCCEEDED' then 1 else 0 end) as {{ dbt.type_bigint() }}) as redemptions_succeeded,
        cast(sum(case when status = 'FAILED' then 1 else 0 end) as {{ dbt.type_bigint() }}) as redemptions_failed,
        cast(sum(case when status = 'ROLLED_BACK' then 1 else 0 end) as {{ dbt.type_bigint() }})
            as redemptions_rolled_back
    from {{ ref('fct_redemptions') }}
    group by customer_source_id

),

orders as (

    select customer_source_id, sum(total_amount) as orders_total_amount
    from {{ ref('fct_orders') }}
    where is_paid
    group by customer_source_id

),

points as (

    select customer_source_id, cast(sum(points) as {{ dbt.type_bigint() }}) as loyalty_points
    from {{ ref('fct_loyalty_points') }}
    group by customer_source_id

),

{%- set metrics = [
    'redemptions_succeeded', 'redemptions_failed', 'redemptions_rolled_back', 'orders_total_amount', 'loyalty_points'
] %}

compared as (

    {%- for metric in metrics %}
    select
        latest_export.customer_source_id,
        '{{ metric }}' as metric,
        cast(coalesce({{ {'redemptions_succeeded': 'redemptions', 'redemptions_failed': 'redemptions',
                          'redemptions_rolled_back': 'redemptions', 'orders_total_amount': 'orders',
                          'loyalty_points': 'points'}[metric] }}.{{ metric }}, 0) as {{ type_money() }}) as warehouse_value,
        cast(
            latest_export.{{ 'redemptions_total_' ~ metric[12:] if metric.startswith('redemptions_') else metric }}
            as {{ type_money() }}
        ) as voucherify_value
    from latest_export
    left join redemptions on latest_export.customer_source_id = redemptions.customer_source_id
    left join orders on latest_export.customer_source_id = orders.customer_source_id
    left join points on latest_export.customer_source_id = points.customer_source_id
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

final as (

    select
        customer_source_id,
        metric,
        warehouse_value,
        voucherify_value,
        cast(warehouse_value - voucherify_value as {{ type_money() }}) as difference
    from compared

)

select * from final
