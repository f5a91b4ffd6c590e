-- One row per module: numeric features as of the day after the latest day with data.
with daily as (
    select * from {{ ref('int_item_daily') }}
),

modules as (
    select * from {{ ref('dim_learning_modules') }}
),

reference as (
    select coalesce(max(last_active_date), current_date - 1) + 1 as reference_date
    from {{ ref('int_user_activity_span') }}
),

recent as (
    select
        daily.item_id as module_id,
        sum(daily.users) as learners_28d,
        sum(daily.top_grade_users) as completions_28d
    from daily
    cross join reference
    where daily.item_type = 'module' and daily.event_date >= reference.reference_date - {{ var('long_window_days') }}
    group by daily.item_id
)

select
    modules.module_id,
    case modules.module_level when 'beginner' then 1 when 'intermediate' then 2 when 'advanced' then 3 end
        as level_rank,
    modules.duration_hours::double precision as duration_hours,
    modules.skill_count,
    (reference.reference_date - modules.first_seen_date) as age_days,
    coalesce(recent.learners_28d, 0)::integer as learners_28d,
    coalesce(recent.completions_28d, 0)::integer as completions_28d,
    coalesce(recent.completions_28d::double precision / nullif(recent.learners_28d, 0), 0) as completion_rate_28d
from modules
cross join reference
left join recent on modules.module_id = recent.module_id
