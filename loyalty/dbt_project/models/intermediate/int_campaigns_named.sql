-- The name of every campaign the warehouse has seen named anywhere, keyed by campaign id and by promotion tier
-- id (`name_key` = 'campaign:<camp_…>' or 'promotion_tier:<promo_…>'), so a redemption that carries only an id
-- (a promotion tier's campaign often has no name) gets its campaign's name. The latest name seen wins;
-- `last_ingested_at` is when that name first arrived, so seeing the same name again rebuilds nothing downstream.
with

observations as (

    select * from {{ ref('int_campaign_observations_unioned') }}

),

-- a promotion tier seen with its campaign's id borrows the name that id has anywhere
tier_campaigns as (

    select promotion_tier_id, {{ first_not_null('campaign_id', 'seen_at desc, observation_key') }} as campaign_id
    from observations
    where promotion_tier_id is not null
    group by promotion_tier_id

),

campaign_names as (

    select
        campaign_id,
        {{ first_not_null('campaign_name', 'seen_at desc nulls last, _ingested_at desc, observation_key') }}
            as campaign_name
    from observations
    where campaign_id is not null
    group by campaign_id

),

by_campaign as (

    select
        'campaign:' || campaign_names.campaign_id as name_key,
        campaign_names.campaign_name,
        min(observations._ingested_at) as last_ingested_at
    from campaign_names
    inner join observations
        on campaign_names.campaign_id = observations.campaign_id
            and campaign_names.campaign_name = observations.campaign_name
    group by 1, 2

),

tier_names as (

    select
        observations.promotion_tier_id,
        coalesce(
            {{ first_not_null(
                'observations.campaign_name',
                'observations.seen_at desc nulls last, observations._ingested_at desc, observations.observation_key'
            ) }},
            max(by_campaign.campaign_name)
        ) as campaign_name,
        max(by_campaign.last_ingested_at) as campaign_named_at
    from observations
    left join tier_campaigns
        on observations.promotion_tier_id = tier_campaigns.promotion_tier_id
    left join by_campaign
        on by_campaign.name_key = 'campaign:' || tier_campaigns.campaign_id
    where observations.promotion_tier_id is not null
    group by observations.promotion_tier_id

),

by_tier as (

    select
        'promotion_tier:' || tier_names.promotion_tier_id as name_key,
        tier_names.campaign_name,
        -- when the tier's name first arrived: with the tier itself, or through its campaign's id
        least(
            min(case when observations.campaign_name = tier_names.campaign_name then observations._ingested_at end),
            max(tier_names.campaign_named_at)
        ) as last_ingested_at
    from tier_names
    inner join observations
        on tier_names.promotion_tier_id = observations.promotion_tier_id
    group by 1, 2

),

final as (

    select * from by_campaign where campaign_name is not null
    union all
    select * from by_tier where campaign_name is not null

)

select * from final
