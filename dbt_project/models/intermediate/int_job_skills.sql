-- Skills a job needs: those the posting lists (importance 1: explicitly required) and those its
-- O*NET occupation relies on (their O*NET importance). The stronger of the two wins.
with jobs as (
    select * from {{ ref('int_jobs') }}
),

vocabulary as (
    select * from {{ ref('int_skill_vocabulary') }}
),

occupation_skills as (
    select * from {{ ref('int_occupation_skills') }}
),

listed as (
    select
        jobs.job_id,
        vocabulary.skill_id,
        1.0::numeric as importance,
        true as is_required
    from jobs
    cross join lateral unnest(string_to_array(jobs.required_skills_text, ';')) as listed_skill (skill_name)
    inner join vocabulary on lower(trim(listed_skill.skill_name)) = vocabulary.skill_name_norm
),

from_occupation as (
    select
        jobs.job_id,
        occupation_skills.skill_id,
        occupation_skills.importance,
        false as is_required
    from jobs
    inner join occupation_skills on jobs.soc_code = occupation_skills.soc_code
),

combined as (
    select * from listed
    union all
    select * from from_occupation
)

select
    job_id,
    skill_id,
    max(importance) as importance,
    bool_or(is_required) as is_required
from combined
group by job_id, skill_id
