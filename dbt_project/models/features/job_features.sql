-- One row per job: numeric features as of the day after the latest day with data.
with daily as (
    select * from {{ ref('int_item_daily') }}
),

jobs as (
    select * from {{ ref('dim_jobs') }}
),

reference as (
    select coalesce(max(last_active_date), current_date - 1) + 1 as reference_date
    from {{ ref('int_user_activity_span') }}
),

recent as (
    select
        daily.item_id as job_id,
        sum(daily.users) filter (
            where daily.event_date >= reference.reference_date - {{ var('short_window_days') }}
        ) as users_7d,
        sum(daily.top_grade_users) filter (
            where daily.event_date >= reference.reference_date - {{ var('short_window_days') }}
        ) as applicants_7d,
        sum(daily.users) as users_28d,
        sum(daily.top_grade_users) as applicants_28d
    from daily
    cross join reference
    where daily.item_type = 'job' and daily.event_date >= reference.reference_date - {{ var('long_window_days') }}
    group by daily.item_id
)

select
    jobs.job_id,
    jobs.job_level,
    jobs.skill_count,
    jobs.required_skill_count,
    jobs.posted_date,
    (reference.reference_date - jobs.posted_date) as age_days,
    coalesce(recent.users_7d, 0)::integer as users_7d,
    coalesce(recent.applicants_7d, 0)::integer as applicants_7d,
    coalesce(recent.users_28d, 0)::integer as users_28d,
    coalesce(recent.applicants_28d, 0)::integer as applicants_28d,
    coalesce(recent.applicants_28d::double precision / nullif(recent.users_28d, 0), 0) as apply_rate_28d
from jobs
cross join reference
left join recent on jobs.job_id = recent.job_id
