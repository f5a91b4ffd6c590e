{{ config(materialized='view') }}
-- Training labels: the strongest interaction of a user with a job or module on a day
-- (jobs apply 3 > save 2 > view 1; modules complete 3 > progress 2 > start 1). A view over the
-- incremental daily table, so it costs nothing at build time and is always in step with it.
select
    user_key,
    item_type,
    item_id,
    event_date,
    grade
from {{ ref('int_user_item_daily') }}
where item_type in ('job', 'module') and grade > 0
