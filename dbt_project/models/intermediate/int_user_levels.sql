-- Dated seniority points per user on the O*NET job-zone scale (1-5), so ranking can read the level a
-- user had on any day. HRIS job levels are authoritative; without HRIS, years of experience on the
-- latest resume map to a zone (<1 y: 1, <3: 2, <6: 3, <10: 4, else 5).
with hris as (
    select * from {{ ref('stg_hris_employees') }}
),

resumes as (
    select * from {{ ref('stg_resumes') }}
),

hris_levels as (
    select
        user_key,
        job_level as user_level,
        min(snapshot_date) as effective_date,
        1 as source_priority
    from hris
    where user_key is not null and job_level is not null
    group by user_key, job_level
),

resume_levels as (
    select
        user_key,
        case
            when years_experience < 1 then 1
            when years_experience < 3 then 2
            when years_experience < 6 then 3
            when years_experience < 10 then 4
            else 5
        end as user_level,
        submitted_date as effective_date,
        2 as source_priority
    from resumes
    where user_key is not null and years_experience is not null
)

select * from hris_levels
union all
select * from resume_levels
