-- A user's current skill profile: the strongest evidence per skill.
with evidence as (
    select * from {{ ref('int_user_skill_evidence') }}
)

select
    user_key,
    skill_id,
    max(weight) as weight,
    min(first_seen_date) as first_seen_date,
    bool_or(evidence_source = 'resume') as from_resume,
    bool_or(evidence_source = 'hris_role') as from_role
from evidence
group by user_key, skill_id
