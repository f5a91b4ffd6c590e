{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='as_of_date',
        incremental_predicates=as_of_delete_predicate(),
        post_hook=["{{ date_index('as_of_date') }}", "{{ as_of_retention() }}"],
    )
}}
-- Features of each (user, candidate item) pair of ml.candidates, computed point-in-time: every input
-- is restricted to data dated strictly before the row's as_of_date. Training (past as_of dates) and
-- nightly scoring (tonight's) read this one table, so they cannot drift apart. Each input is
-- pre-aggregated per (as_of_date, user) or (as_of_date, item) before it meets the pairs.
--
-- Incremental by as_of_date, built in its own small dbt step right after ranking writes the night's
-- candidates: a night computes only its own as_of dates (past candidates never change). As a view,
-- every read re-derived all dates and the planner's estimates fell to one row (nested loops): 27 s
-- for one as_of date of tier S, and a training read of ten dates did not finish in 5 minutes.
-- The skill match of each pair (overlap count, weighted overlap, gap coverage) comes with the
-- candidates: ranking computes it from the same sparse vectors as retrieval. Here, in SQL, it expanded
-- every pair by every item skill (~2.3M rows per as-of date of tier S) and took 20-30 s per date.
with levels as (
    select * from {{ ref('int_user_levels') }}
),

locations as (
    select * from {{ ref('int_user_locations') }}
),

activity as (
    select * from {{ ref('int_user_activity_daily') }}
),

daily as (
    select * from {{ ref('int_item_daily') }}
),

categories as (
    select * from {{ ref('int_user_category_daily') }}
),

user_item_daily as (
    select * from {{ ref('int_user_item_daily') }}
),

candidates as (
    select
        as_of_date,
        user_key,
        item_type,
        item_id,
        retrieval_score,
        retrieval_rank,
        skill_overlap_count,
        skill_overlap_weighted,
        gap_coverage
    from {{ source('ml', 'candidates') }}
    where {{ as_of_in_window() }}
),

user_days as (
    select distinct
        as_of_date,
        user_key
    from candidates
),

item_days as (
    select distinct
        as_of_date,
        item_type,
        item_id
    from candidates
),

items as (
    select * from {{ ref('int_items') }}
),

-- the user's skills as evidenced before the day
-- what the user lacked before the day for the occupations they had targeted before the day
user_levels_asof as (
    select distinct on (user_days.as_of_date, user_days.user_key)
        user_days.as_of_date,
        user_days.user_key,
        levels.user_level
    from user_days
    inner join levels
        on user_days.user_key = levels.user_key and user_days.as_of_date > levels.effective_date
    order by user_days.as_of_date asc, user_days.user_key asc, levels.effective_date desc, levels.source_priority asc
),

user_locations_asof as (
    select
        user_days.as_of_date,
        user_days.user_key,
        (
            array_agg(locations.location order by locations.effective_date desc)
            filter (where locations.location is not null)
        )[1
        ] as location,
        (
            array_agg(locations.region order by locations.effective_date desc)
            filter (where locations.region is not null)
        )[1
        ] as region
    from user_days
    inner join locations
        on user_days.user_key = locations.user_key and user_days.as_of_date > locations.effective_date
    group by user_days.as_of_date, user_days.user_key
),

user_activity_asof as (
    select
        user_days.as_of_date,
        user_days.user_key,
        sum(activity.events) as events_28d
    from user_days
    inner join activity
        on
            user_days.user_key = activity.user_key
            and activity.activity_date >= user_days.as_of_date - {{ var('long_window_days') }}
            and user_days.as_of_date > activity.activity_date
    group by user_days.as_of_date, user_days.user_key
),

item_popularity_asof as (
    select
        item_days.as_of_date,
        item_days.item_type,
        item_days.item_id,
        sum(daily.users) as users_7d
    from item_days
    inner join daily
        on
            item_days.item_type = daily.item_type
            and item_days.item_id = daily.item_id
            and daily.event_date >= item_days.as_of_date - {{ var('short_window_days') }}
            and item_days.as_of_date > daily.event_date
    group by item_days.as_of_date, item_days.item_type, item_days.item_id
),

user_categories_asof as (
    select
        user_days.as_of_date,
        user_days.user_key,
        categories.item_type,
        categories.category,
        sum(categories.events) filter (
            where categories.event_date >= user_days.as_of_date - {{ var('long_window_days') }}
        ) as events_28d,
        max(categories.event_date) as last_interest_date
    from user_days
    inner join categories
        on user_days.user_key = categories.user_key and user_days.as_of_date > categories.event_date
    group by user_days.as_of_date, user_days.user_key, categories.item_type, categories.category
),

prior_interactions as (
    select
        candidates.as_of_date,
        candidates.user_key,
        candidates.item_type,
        candidates.item_id,
        sum(user_item_daily.events) as interactions
    from candidates
    inner join user_item_daily
        on
            candidates.user_key = user_item_daily.user_key
            and candidates.item_type = user_item_daily.item_type
            and candidates.item_id = user_item_daily.item_id
            and candidates.as_of_date > user_item_daily.event_date
    group by candidates.as_of_date, candidates.user_key, candidates.item_type, candidates.item_id
)

select
    candidates.as_of_date,
    candidates.user_key,
    candidates.item_type,
    candidates.item_id,
    candidates.retrieval_score,
    candidates.retrieval_rank,
    coalesce(candidates.skill_overlap_count, 0)::integer as skill_overlap_count,
    coalesce(candidates.skill_overlap_weighted, 0)::double precision as skill_overlap_weighted,
    coalesce(candidates.gap_coverage, 0)::double precision as gap_coverage,
    (items.item_level - user_levels_asof.user_level)::integer as level_gap,
    case
        when candidates.item_type <> 'job' then null
        when items.location is null or user_locations_asof.location is null then 0
        else (lower(items.location) = lower(user_locations_asof.location))::integer
    end as location_match,
    case
        when candidates.item_type <> 'job' then null
        when items.region is null or user_locations_asof.region is null then 0
        else (items.region = user_locations_asof.region)::integer
    end as region_match,
    coalesce(item_popularity_asof.users_7d, 0)::integer as item_popularity_7d,
    coalesce(user_activity_asof.events_28d, 0)::integer as user_activity_28d,
    coalesce(user_categories_asof.events_28d, 0)::integer as category_interest_28d,
    (candidates.as_of_date - user_categories_asof.last_interest_date) as days_since_category_interest,
    coalesce(prior_interactions.interactions, 0)::integer as user_item_prior_interactions,
    (candidates.as_of_date - items.available_date) as item_age_days
from candidates
left join items
    on candidates.item_type = items.item_type and candidates.item_id = items.item_id
left join user_levels_asof
    on candidates.as_of_date = user_levels_asof.as_of_date and candidates.user_key = user_levels_asof.user_key
left join user_locations_asof
    on candidates.as_of_date = user_locations_asof.as_of_date and candidates.user_key = user_locations_asof.user_key
left join user_activity_asof
    on candidates.as_of_date = user_activity_asof.as_of_date and candidates.user_key = user_activity_asof.user_key
left join item_popularity_asof
    on
        candidates.as_of_date = item_popularity_asof.as_of_date
        and candidates.item_type = item_popularity_asof.item_type
        and candidates.item_id = item_popularity_asof.item_id
left join user_categories_asof
    on
        candidates.as_of_date = user_categories_asof.as_of_date
        and candidates.user_key = user_categories_asof.user_key
        and candidates.item_type = user_categories_asof.item_type
        and items.category = user_categories_asof.category
left join prior_interactions
    on
        candidates.as_of_date = prior_interactions.as_of_date
        and candidates.user_key = prior_interactions.user_key
        and candidates.item_type = prior_interactions.item_type
        and candidates.item_id = prior_interactions.item_id
