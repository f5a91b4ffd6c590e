-- The skill vocabulary: one skill_id per normalised name, so that free-text skill lists in resumes,
-- postings and the catalogue (written with taxonomy names) resolve to O*NET skill ids.
with onet_skills as (
    select * from {{ ref('stg_onet_skills') }}
),

named as (
    select
        skill_id,
        min(skill_name) as skill_name,
        min(skill_kind) as skill_kind
    from onet_skills
    group by skill_id
)

select distinct on (lower(trim(skill_name)))
    skill_id,
    skill_name,
    skill_kind,
    lower(trim(skill_name)) as skill_name_norm
from named
order by lower(trim(skill_name)), skill_id
