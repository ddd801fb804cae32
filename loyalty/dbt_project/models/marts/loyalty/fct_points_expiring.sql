-- Points that will expire, per member and expiry day, from the freshest Voucherify points_expiration export:
-- that export lists every unexpired bucket with its expiry date, whereas a card's next_expiration_* fields only
-- name the nearest one. The freshest export is the last file loaded (by load time, then file name) — an export
-- is a snapshot, so older files would bring back buckets that have since been spent or expired.
with

buckets as (

    select * from {{ ref('stg_voucherify__export_points_expirations') }}

),

cards as (

    select * from {{ ref('int_vouchers_resolved') }}

),

freshest_file as (

    select _file
    from buckets
    order by {{ nulls_last('_ingested_at desc, _file desc') }}
    limit 1

),

active_buckets as (

    select buckets.*
    from buckets
    inner join freshest_file
        on buckets._file = freshest_file._file
    where coalesce(buckets.status, 'ACTIVE') = 'ACTIVE'
        and buckets.points > 0

),

final as (

    select
        cards.holder_customer_source_id as customer_source_id,
        active_buckets.expires_on,
        cast(sum(active_buckets.points) as {{ dbt.type_bigint() }}) as points,
        count(*) as buckets,
        max(active_buckets._ingested_at) as snapshot_loaded_at
    from active_buckets
    left join cards
        on active_buckets.voucher_id = cards.voucher_id
    group by cards.holder_customer_source_id, active_buckets.expires_on

)

select * from final
