-- Rankable items (jobs and modules) with what pair features compare: category, level on the
-- job-zone scale, place, and the day the item became available. Modules have no category in the
-- catalogue: their provider is the closest grouping it has. Module levels map onto job zones
-- (beginner 2, intermediate 3, advanced 4) so level_gap means the same for both item types.
with jobs as (
    select * from {{ ref('int_jobs') }}
),

modules as (
    select * from {{ ref('stg_learning_modules') }}
)

select
    'job' as item_type,
    job_id as item_id,
    category,
    job_level as item_level,
    location,
    region,
    posted_date as available_date
from jobs
union all
select
    'module' as item_type,
    module_id as item_id,
    provider as category,
    case module_level when 'beginner' then 2 when 'intermediate' then 3 when 'advanced' then 4 end as item_level,
    null as location,
    null as region,
    first_seen_date as available_date
from modules
