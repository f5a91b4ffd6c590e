-- One row per job posting with its occupation and skill counts.
with jobs as (
    select * from {{ ref('int_jobs') }}
),

skills as (
    select
        job_id,
        count(*) as skill_count,
        count(*) filter (where is_required) as required_skill_count
    from {{ ref('int_job_skills') }}
    group by job_id
)

select
    jobs.job_id,
    jobs.title,
    jobs.company,
    jobs.category,
    jobs.location,
    jobs.region,
    jobs.job_level,
    jobs.soc_code,
    jobs.occupation_title,
    jobs.posted_date,
    coalesce(skills.skill_count, 0)::integer as skill_count,
    coalesce(skills.required_skill_count, 0)::integer as required_skill_count
from jobs
left join skills on jobs.job_id = skills.job_id
