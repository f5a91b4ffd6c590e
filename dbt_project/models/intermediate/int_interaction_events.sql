{{ day_window_incremental('event_date') }}
-- Every product event once, graded, stored in day order (the heap order keeps the nightly
-- delete+insert flat as history grows: stack notes, 10M rows 0.55 s day-ordered vs 2.2 s user-ordered).
-- Grade = how strongly the event says "relevant": jobs apply 3 > save 2 > view 1, modules
-- complete 3 > progress 2 > start 1, tool sessions 0 (not a ranking item).
with events as (
    select * from {{ ref('stg_interaction_events') }}
    where {{ ts_in_window('occurred_at') }}
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
    duration_s,
    progress_pct,
    session_id,
    case event_type
        when 'job_apply' then 3
        when 'job_save' then 2
        when 'job_view' then 1
        when 'module_complete' then 3
        when 'module_progress' then 2
        when 'module_start' then 1
        else 0
    end as grade
from events
order by event_date, occurred_at
