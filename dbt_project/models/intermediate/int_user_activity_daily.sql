{{
    day_window_incremental('activity_date', [
        "create index if not exists {{ this.name }}__user on {{ this }} (user_key, activity_date)",
    ])
}}
-- One row per user and active day with what they did: the base of DAU/WAU/MAU, retention and the
-- users' recent-activity features.
with events as (
    select * from {{ ref('int_interaction_events') }}
    where {{ date_in_window('event_date') }}
)

select
    user_key,
    event_date as activity_date,
    count(*)::integer as events,
    (count(*) filter (where event_type = 'job_view'))::integer as job_views,
    (count(*) filter (where event_type = 'job_save'))::integer as job_saves,
    (count(*) filter (where event_type = 'job_apply'))::integer as job_applies,
    (count(*) filter (where event_type = 'module_start'))::integer as module_starts,
    (count(*) filter (where event_type = 'module_progress'))::integer as module_progresses,
    (count(*) filter (where event_type = 'module_complete'))::integer as module_completes,
    (count(*) filter (where event_type = 'tool_session'))::integer as tool_events
from events
group by event_date, user_key
order by event_date
