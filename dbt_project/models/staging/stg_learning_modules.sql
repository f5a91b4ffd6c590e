-- The learning catalogue, typed: one row per module (the latest snapshot replaces the row in raw).
-- first_seen_date approximates when the module became available: its first load.
with source as (
    select * from {{ source('raw', 'learning_modules') }}
)

select
    module_id,
    title,
    provider,
    skills as skills_text,
    lower(level) as module_level,
    duration_hours,
    coalesce(_partition_date, (_loaded_at at time zone 'utc')::date) as first_seen_date,
    _loaded_at as loaded_at
from source
