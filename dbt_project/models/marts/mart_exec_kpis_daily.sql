{{ day_window_incremental('kpi_date') }}
-- The executive dashboard, one row per day:
-- - dau / wau / mau: distinct users active that day / in the 7 / 30 days ending that day;
-- - new_users: users whose first activity ever was that day;
-- - tool adoption: share of the day's active users who used a tool;
-- - applications and applying users; module starts, completions, completion rate (completions / starts);
-- - d7 retention: of the cohort first active 7 days earlier, the share active that day.
-- The window's days are recomputed whole, so a late event corrects the day it happened on.
with activity as (
    select * from {{ ref('int_user_activity_daily') }}
    {% if in_window_mode() %}
        -- 29 days before the window feed its first day's MAU; the 7-day cohort needs 7.
        where activity_date >= {{ window_start() }} - 29
    {% endif %}
),

spans as (
    select * from {{ ref('int_user_activity_span') }}
),

kpi_days as (
    select distinct activity_date as kpi_date
    from activity
    where {{ date_in_window('activity_date') }}
),

-- one row per KPI day and user active in the 30 days ending that day (one hash aggregate instead of
-- three sorted count(distinct)s)
user_days as (
    select
        kpi_days.kpi_date,
        activity.user_key,
        bool_or(activity.activity_date = kpi_days.kpi_date) as active_that_day,
        bool_or(activity.activity_date > kpi_days.kpi_date - 7) as active_that_week
    from kpi_days
    inner join activity
        on activity.activity_date between kpi_days.kpi_date - 29 and kpi_days.kpi_date
    group by kpi_days.kpi_date, activity.user_key
),

rolling as (
    select
        kpi_date,
        count(*) filter (where active_that_day) as dau,
        count(*) filter (where active_that_week) as wau,
        count(*) as mau
    from user_days
    group by kpi_date
),

daily as (
    select
        activity_date as kpi_date,
        count(*) filter (where tool_events > 0) as tool_active_users,
        sum(job_views) as job_views,
        sum(job_applies) as job_applications,
        count(*) filter (where job_applies > 0) as applying_users,
        sum(module_starts) as module_starts,
        sum(module_completes) as module_completions
    from activity
    where activity_date in (select kpi_days.kpi_date from kpi_days)
    group by activity_date
),

new_users as (
    select
        first_active_date as kpi_date,
        count(*) as new_users
    from spans
    where first_active_date in (select kpi_days.kpi_date from kpi_days)
    group by first_active_date
),

cohorts as (
    select
        kpi_days.kpi_date,
        count(spans.user_key) as d7_cohort_users,
        count(retained.user_key) as d7_retained_users
    from kpi_days
    inner join spans on spans.first_active_date = kpi_days.kpi_date - 7
    left join activity as retained
        on spans.user_key = retained.user_key and kpi_days.kpi_date = retained.activity_date
    group by kpi_days.kpi_date
)

select
    rolling.kpi_date,
    rolling.dau::integer as dau,
    rolling.wau::integer as wau,
    rolling.mau::integer as mau,
    coalesce(new_users.new_users, 0)::integer as new_users,
    daily.tool_active_users::integer as tool_active_users,
    round(daily.tool_active_users::numeric / nullif(rolling.dau, 0), 4)::numeric(9, 4) as tool_adoption_rate,
    daily.job_views::integer as job_views,
    daily.job_applications::integer as job_applications,
    daily.applying_users::integer as applying_users,
    daily.module_starts::integer as module_starts,
    daily.module_completions::integer as module_completions,
    round(daily.module_completions::numeric / nullif(daily.module_starts, 0), 4)::numeric(9, 4)
        as learning_completion_rate,
    coalesce(cohorts.d7_cohort_users, 0)::integer as d7_cohort_users,
    coalesce(cohorts.d7_retained_users, 0)::integer as d7_retained_users,
    round(cohorts.d7_retained_users::numeric / nullif(cohorts.d7_cohort_users, 0), 4)::numeric(9, 4)
        as d7_retention_rate
from rolling
inner join daily on rolling.kpi_date = daily.kpi_date
left join new_users on rolling.kpi_date = new_users.kpi_date
left join cohorts on rolling.kpi_date = cohorts.kpi_date
order by rolling.kpi_date
