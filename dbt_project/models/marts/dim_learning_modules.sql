-- One row per learning module in the current catalogue.
with modules as (
    select * from {{ ref('stg_learning_modules') }}
),

skills as (
    select
        module_id,
        count(*) as skill_count
    from {{ ref('int_module_skills') }}
    group by module_id
)

select
    modules.module_id,
    modules.title,
    modules.provider,
    modules.module_level,
    modules.duration_hours::numeric(7, 2) as duration_hours,
    modules.first_seen_date,
    coalesce(skills.skill_count, 0)::integer as skill_count
from modules
left join skills on modules.module_id = skills.module_id
