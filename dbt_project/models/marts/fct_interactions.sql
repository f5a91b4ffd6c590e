{{ day_window_incremental('event_date') }}
-- Every product event once, for dashboards (published by its event_date window).
with events as (
    select * from {{ ref('int_interaction_events') }}
    where {{ date_in_window('event_date') }}
)

select
    event_id,
    user_key,
    event_type,
    item_type,
    item_id,
    occurred_at,
    event_date,
    delivered_date,
    (delivered_date > event_date) as is_late,
    duration_s,
    progress_pct::numeric(5, 2) as progress_pct,
    session_id,
    grade
from events
order by event_date
