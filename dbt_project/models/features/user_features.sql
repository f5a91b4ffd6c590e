-- One row per user: numeric features describing the user as of the latest day with data
-- (reference day = the day after it). Protected attributes are deliberately absent.
with activity as (
    select * from {{ ref('int_user_activity_daily') }}
),

users as (
    select * from {{ ref('dim_users') }}
),

reference as (
    select coalesce(max(last_active_date), current_date - 1) + 1 as reference_date
    from {{ ref('int_user_activity_span') }}
),

recent_activity as (
    select
        activity.user_key,
        count(*) as active_days_28d,
        sum(activity.events) as events_28d,
        sum(activity.job_applies) as job_applies_28d,
        sum(activity.module_completes) as module_completes_28d,
        sum(activity.tool_events) as tool_events_28d
    from activity
    cross join reference
    where activity.activity_date >= reference.reference_date - {{ var('long_window_days') }}
    group by activity.user_key
),

skills as (
    select
        user_key,
        count(*) as skill_count,
        count(*) filter (where from_resume) as resume_skill_count
    from {{ ref('int_user_skills') }}
    group by user_key
),

gaps as (
    select
        user_key,
        count(distinct target_soc_code) as target_occupations,
        count(distinct skill_id) as gap_skill_count,
        sum(gap_weight) as gap_weight_total
    from {{ ref('int_skill_gaps') }}
    group by user_key
)

select
    users.user_key,
    users.years_experience::double precision as years_experience,
    case users.education_level
        when 'high_school' then 1
        when 'associate' then 2
        when 'bachelor' then 3
        when 'master' then 4
        when 'doctorate' then 5
    end as education_rank,
    users.job_level,
    (reference.reference_date - users.hire_date) as tenure_days,
    users.signup_date,
    (reference.reference_date - users.signup_date) as account_age_days,
    (reference.reference_date - users.last_active_date) as days_since_active,
    coalesce(skills.skill_count, 0)::integer as skill_count,
    coalesce(skills.resume_skill_count, 0)::integer as resume_skill_count,
    coalesce(gaps.target_occupations, 0)::integer as target_occupations,
    coalesce(gaps.gap_skill_count, 0)::integer as gap_skill_count,
    coalesce(gaps.gap_weight_total, 0)::double precision as gap_weight_total,
    coalesce(recent_activity.active_days_28d, 0)::integer as active_days_28d,
    coalesce(recent_activity.events_28d, 0)::integer as events_28d,
    coalesce(recent_activity.job_applies_28d, 0)::integer as job_applies_28d,
    coalesce(recent_activity.module_completes_28d, 0)::integer as module_completes_28d,
    coalesce(recent_activity.tool_events_28d, 0)::integer as tool_events_28d
from users
cross join reference
left join skills on users.user_key = skills.user_key
left join gaps on users.user_key = gaps.user_key
left join recent_activity on users.user_key = recent_activity.user_key
