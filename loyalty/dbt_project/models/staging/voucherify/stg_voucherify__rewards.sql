-- Rewards as Voucherify describes them inside redemptions (`redemption.reward`: webhooks, the legacy envelope's
-- data.object, API pulls) and reward events (`data.reward`: customer.rewarded, customer.reward_redemptions.*):
-- one row per sighting. A pay-with-points reward (type COIN) carries parameters.coin: `points_ratio` points are
-- worth `exchange_ratio` currency units.
with

-- Not materialized: an incremental reader's `_ingested_at` filter must reach the raw table. Only the events that can
-- carry a reward are parsed (redemptions and their rollbacks, in either envelope; customer.rewarded; reward
-- redemptions): the event type is a column, so this filter costs nothing.
deliveries {{ as_not_materialized() }} (

    select * from {{ ref('stg_voucherify__webhook_deliveries') }}
    where event_type like 'redemption.%'
        or event_type like 'customer.redemption.%'
        or event_type like 'customer.reward%'

),

described as (

    select
        coalesce(
            {{ json_value('data', 'redemption.reward') }}, {{ json_value('data_object', 'reward') }},
            {{ json_value('data', 'reward') }}
        ) as reward,
        event_created_at as seen_at,
        'webhook:' || coalesce(event_id, delivery_id) || ':' || coalesce(webhook_source_id, '') as sighting_key,
        _ingested_at
    from deliveries

    union all

    select
        {{ json_value('payload', 'reward') }},
        created_at,
        'api:' || _file || ':' || cast(_line as {{ type_text() }}),
        _ingested_at
    from {{ source('voucherify', 'voucherify_api_objects') }}
    where endpoint = 'redemptions'

),

renamed as (

    select
        {{ json_text('reward', 'id') }} as reward_id,
        {{ json_text('reward', 'name') }} as reward_name,
        upper({{ json_text('reward', 'type') }}) as reward_type,
        {{ dbt.safe_cast(json_text('reward', 'parameters.coin.exchange_ratio'), 'decimal(18,6)') }} as exchange_ratio,
        {{ dbt.safe_cast(json_text('reward', 'parameters.coin.points_ratio'), 'decimal(18,6)') }} as points_ratio,
        seen_at,
        sighting_key,
        _ingested_at
    from described
    where {{ json_text('reward', 'id') }} is not null

)

select * from renamed
