{{ day_window_incremental('session_date') }}
-- Tool usage sessionized per user and tool: a new session starts when more than 30 minutes passed
-- since the end of the user's previous event on that tool (its start plus its duration). A session
-- belongs to the day it started. A session that straddles the start of the reprocessed window is
-- split there (the lookback makes that a 3-days-old edge case).
with tool_events as (
    select
        user_key,
        item_id as tool_id,
        occurred_at,
        occurred_at + make_interval(secs => coalesce(duration_s, 0)) as ended_at,
        coalesce(duration_s, 0) as duration_s
    from {{ ref('int_interaction_events') }}
    where {{ date_in_window('event_date') }} and item_type = 'tool'
),

flagged as (
    select
        *,
        case
            when
                lag(ended_at) over (partition by user_key, tool_id order by occurred_at) is null
                or occurred_at - lag(ended_at) over (partition by user_key, tool_id order by occurred_at)
                > interval '30 minutes'
                then 1
            else 0
        end as is_session_start
    from tool_events
),

numbered as (
    select
        *,
        sum(is_session_start) over (
            partition by user_key, tool_id order by occurred_at rows unbounded preceding
        ) as session_number
    from flagged
),

sessions as (
    select
        user_key,
        tool_id,
        session_number,
        min(occurred_at) as session_start,
        max(ended_at) as session_end,
        count(*)::integer as events,
        sum(duration_s)::bigint as active_seconds
    from numbered
    group by user_key, tool_id, session_number
)

select
    md5(user_key || '|' || tool_id || '|' || session_start::text) as session_key,
    user_key,
    tool_id,
    (session_start at time zone 'utc')::date as session_date,
    session_start,
    session_end,
    events,
    active_seconds,
    extract(epoch from session_end - session_start)::bigint as span_seconds
from sessions
order by session_date
