{{ day_window_incremental('activity_date') }}
-- The executive dashboard per tenant and day, pre-aggregated so the board answers any date range
-- and tenant from a few hundred rows (at M tier fct_interactions holds ~1M events a day):
-- - dau / wau / mau: distinct users of the tenant active that day / in the 7 / 30 days ending it;
-- - the job funnel (views, saves, applications) and learning (starts, progress, completions, hours).
-- A user belongs to one tenant (int_user_tenants) or is 'direct', so the tenants' counts add up to
-- the whole product's (mart_exec_kpis_daily). A day's tenant split is the one known when the day was
-- last rebuilt (its night plus the lookback): an employee's earlier activity stays 'direct'.
with activity as (
    select * from {{ ref('int_user_activity_daily') }}
    {% if in_window_mode() %}
        -- 29 days before the window feed its first day's MAU.
        where activity_date >= {{ window_start() }} - 29
    {% endif %}
),

tenants as (
    select * from {{ ref('int_user_tenants') }}
),

tenant_activity as (
    select
        activity.*,
        coalesce(tenants.tenant_id, 'direct') as tenant_id
    from activity
    left join tenants on activity.user_key = tenants.user_key
),

kpi_days as (
    select distinct activity_date as kpi_date
    from activity
    where {{ date_in_window('activity_date') }}
),

-- one row per KPI day and user active in the 30 days ending that day
user_days as (
    select
        kpi_days.kpi_date,
        tenant_activity.tenant_id,
        tenant_activity.user_key,
        bool_or(tenant_activity.activity_date = kpi_days.kpi_date) as active_that_day,
        bool_or(tenant_activity.activity_date > kpi_days.kpi_date - 7) as active_that_week
    from kpi_days
    inner join tenant_activity
        on tenant_activity.activity_date between kpi_days.kpi_date - 29 and kpi_days.kpi_date
    group by kpi_days.kpi_date, tenant_activity.tenant_id, tenant_activity.user_key
),

rolling as (
    select
        kpi_date,
        tenant_id,
        count(*) filter (where active_that_day) as dau,
        count(*) filter (where active_that_week) as wau,
        count(*) as mau
    from user_days
    group by kpi_date, tenant_id
),

daily as (
    select
        activity_date as kpi_date,
        tenant_id,
        sum(job_views) as job_views,
        sum(job_saves) as job_saves,
        sum(job_applies) as job_applications,
        sum(module_starts) as module_starts,
        sum(module_progresses) as module_progress_events,
        sum(module_completes) as module_completions
    from tenant_activity
    where activity_date in (select kpi_days.kpi_date from kpi_days)
    group by activity_date, tenant_id
),

-- time spent learning: the durations module events report (progress and completion sessions)
learning_time as (
    select
        events.event_date as kpi_date,
        coalesce(tenants.tenant_id, 'direct') as tenant_id,
        sum(coalesce(events.duration_s, 0)) as learning_seconds
    from {{ ref('int_interaction_events') }} as events
    left join tenants on events.user_key = tenants.user_key
    where {{ date_in_window('events.event_date') }} and events.item_type = 'module'
    group by events.event_date, coalesce(tenants.tenant_id, 'direct')
)

select
    rolling.kpi_date as activity_date,
    rolling.tenant_id,
    rolling.dau::integer as dau,
    rolling.wau::integer as wau,
    rolling.mau::integer as mau,
    coalesce(daily.job_views, 0)::integer as job_views,
    coalesce(daily.job_saves, 0)::integer as job_saves,
    coalesce(daily.job_applications, 0)::integer as job_applications,
    coalesce(daily.module_starts, 0)::integer as module_starts,
    coalesce(daily.module_progress_events, 0)::integer as module_progress_events,
    coalesce(daily.module_completions, 0)::integer as module_completions,
    coalesce(learning_time.learning_seconds, 0)::bigint as learning_seconds
from rolling
left join daily on rolling.kpi_date = daily.kpi_date and rolling.tenant_id = daily.tenant_id
left join learning_time
    on rolling.kpi_date = learning_time.kpi_date and rolling.tenant_id = learning_time.tenant_id
order by rolling.kpi_date, rolling.tenant_id
