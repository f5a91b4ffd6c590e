-- One row per event, typed. No de-duplication here: ingestion loads events exactly once (unique
-- index on raw.interaction_events.event_id), and a window function would stop PostgreSQL from
-- pushing the nightly window filter on occurred_at down into raw.
with source as (
    select * from {{ source('raw', 'interaction_events') }}
)

select
    event_id,
    user_key,
    lower(event_type) as event_type,
    lower(item_type) as item_type,
    item_id,
    occurred_at,
    (occurred_at at time zone 'utc')::date as event_date,
    duration_s,
    progress_pct,
    session_id,
    _partition_date as delivered_date,
    _loaded_at as loaded_at
from source
