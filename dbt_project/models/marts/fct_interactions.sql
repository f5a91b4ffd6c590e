{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='event_date',
        incremental_predicates=window_delete_predicate('event_date'),
        post_hook=["{{ date_index('event_date') }}"],
    )
}}
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
    progress_pct,
    session_id,
    grade
from events
order by event_date
