-- When each source's day arrived: first and last file loaded, and how many hours after the day ended
-- the first file landed (the night starts at 02:00 UTC: more than 2 hours is a late source).
with files as (
    select * from {{ source('ops', 'file_manifest') }}
    where partition_date is not null and status = 'loaded'
)

select
    partition_date,
    source,
    count(*)::integer as files,
    sum(rows_loaded)::bigint as rows_loaded,
    min(loaded_at) as first_loaded_at,
    max(loaded_at) as last_loaded_at,
    round(
        (extract(epoch from min(loaded_at) - (partition_date + 1)::timestamp at time zone 'UTC') / 3600)::numeric, 2
    )::numeric(12, 2) as hours_after_day_end
from files
group by partition_date, source
