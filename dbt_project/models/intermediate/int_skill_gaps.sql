-- What each user lacks for each occupation they aim at: every skill the target occupation relies
-- on, weighted by its O*NET importance times how much of it the user lacks
-- (gap_weight = importance * (1 - current weight), current weight 0 when absent). Skills the user
-- fully has drop out. Targets are the user's 3 most recently targeted occupations, which bounds
-- the table by users, not by history.
with targets as (
    select
        user_key,
        target_soc_code,
        row_number() over (
            partition by user_key order by last_targeted_date desc, first_targeted_date desc, target_soc_code asc
        ) as recency_rank
    from {{ ref('int_user_target_occupations') }}
),

occupation_skills as (
    select * from {{ ref('int_occupation_skills') }}
),

user_skills as (
    select * from {{ ref('int_user_skills') }}
),

required as (
    select
        targets.user_key,
        targets.target_soc_code,
        occupation_skills.skill_id,
        occupation_skills.importance
    from targets
    inner join occupation_skills on targets.target_soc_code = occupation_skills.soc_code
    where targets.recency_rank <= 3
),

scored as (
    select
        required.user_key,
        required.target_soc_code,
        required.skill_id,
        required.importance,
        coalesce(user_skills.weight, 0)::double precision as current_weight,
        (required.importance * (1 - least(coalesce(user_skills.weight, 0), 1)))::double precision as gap_weight
    from required
    left join user_skills
        on required.user_key = user_skills.user_key and required.skill_id = user_skills.skill_id
)

select
    user_key,
    target_soc_code,
    skill_id,
    importance,
    current_weight,
    gap_weight
from scored
where gap_weight > 0
