-- Learning funnel per module: learners who started, are progressing, completed; completion rate
-- and typical time to complete.
with progress as (
    select * from {{ ref('int_learning_progress') }}
),

modules as (
    select * from {{ ref('stg_learning_modules') }}
),

per_module as (
    select
        module_id,
        count(*) as learners_started,
        count(*) filter (where status = 'in_progress') as learners_in_progress,
        count(*) filter (where status = 'completed') as learners_completed,
        avg(max_progress_pct) as avg_progress_pct,
        avg(completed_date - started_date) filter (where status = 'completed') as avg_days_to_complete,
        max(last_activity_date) as last_activity_date
    from progress
    group by module_id
)

select
    per_module.module_id,
    modules.title,
    modules.provider,
    modules.module_level,
    per_module.learners_started::integer as learners_started,
    per_module.learners_in_progress::integer as learners_in_progress,
    per_module.learners_completed::integer as learners_completed,
    round(per_module.learners_completed::numeric / nullif(per_module.learners_started, 0), 4)::numeric(9, 4)
        as completion_rate,
    round(per_module.avg_progress_pct, 2)::numeric(5, 2) as avg_progress_pct,
    round(per_module.avg_days_to_complete, 2)::numeric(9, 2) as avg_days_to_complete,
    per_module.last_activity_date
from per_module
left join modules on per_module.module_id = modules.module_id
