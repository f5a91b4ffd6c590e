{{ day_window_incremental('event_date') }}
-- One row per user, item and day: the graded interaction label (max grade of the day) and how much
-- the user did with the item. The (user, item) index serves the point-in-time pair features.
with events as (
    select * from {{ ref('int_interaction_events') }}
    where {{ date_in_window('event_date') }}
)

select
    user_key,
    item_type,
    item_id,
    event_date,
    max(grade) as grade,
    count(*)::integer as events,
    max(progress_pct) as max_progress_pct,
    sum(coalesce(duration_s, 0))::bigint as duration_s,
    min(occurred_at) as first_occurred_at,
    max(occurred_at) as last_occurred_at
from events
group by event_date, user_key, item_type, item_id
order by event_date
