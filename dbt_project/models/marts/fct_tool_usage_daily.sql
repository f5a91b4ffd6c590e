{{ day_window_incremental('usage_date') }}
-- Tool adoption per day and tool: how many people used it, in how many sessions, for how long.
with sessions as (
    select * from {{ ref('int_tool_sessions') }}
    where {{ date_in_window('session_date') }}
)

select
    session_date as usage_date,
    tool_id,
    count(distinct user_key)::integer as active_users,
    count(*)::integer as sessions,
    sum(events)::integer as events,
    round(sum(span_seconds) / 60.0, 2)::numeric(14, 2) as session_minutes,
    round(avg(span_seconds) / 60.0, 2)::numeric(14, 2) as avg_session_minutes
from sessions
group by session_date, tool_id
order by usage_date, tool_id
