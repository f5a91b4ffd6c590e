-- Every piece of evidence that a user has a skill, dated, so features can be rebuilt as of any day:
-- - a skill listed on a resume (weight 1: the user claims it);
-- - a skill of the O*NET occupation of a role the user held in HRIS (weight = its O*NET importance:
--   people in a role tend to master what the role relies on most).
with resumes as (
    select * from {{ ref('stg_resumes') }}
),

vocabulary as (
    select * from {{ ref('int_skill_vocabulary') }}
),

hris as (
    select * from {{ ref('stg_hris_employees') }}
),

occupation_skills as (
    select * from {{ ref('int_occupation_skills') }}
),

resume_skill_names as (
    select
        resumes.user_key,
        resumes.submitted_date,
        lower(trim(listed.skill_name)) as skill_name_norm
    from resumes
    cross join lateral unnest(string_to_array(resumes.skills_text, ';')) as listed (skill_name)
    where resumes.user_key is not null
),

resume_evidence as (
    select
        resume_skill_names.user_key,
        vocabulary.skill_id,
        'resume' as evidence_source,
        1.0::numeric as weight,
        min(resume_skill_names.submitted_date) as first_seen_date
    from resume_skill_names
    inner join vocabulary on resume_skill_names.skill_name_norm = vocabulary.skill_name_norm
    group by resume_skill_names.user_key, vocabulary.skill_id
),

roles_held as (
    select
        user_key,
        soc_code,
        min(snapshot_date) as first_seen_date
    from hris
    where user_key is not null and soc_code is not null
    group by user_key, soc_code
),

role_evidence as (
    select
        roles_held.user_key,
        occupation_skills.skill_id,
        'hris_role' as evidence_source,
        max(occupation_skills.importance) as weight,
        min(roles_held.first_seen_date) as first_seen_date
    from roles_held
    inner join occupation_skills on roles_held.soc_code = occupation_skills.soc_code
    group by roles_held.user_key, occupation_skills.skill_id
)

select * from resume_evidence
union all
select * from role_evidence
