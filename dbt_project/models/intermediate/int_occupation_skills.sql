-- The skills an occupation relies on. Only elements O*NET rates at least "important" (importance
-- >= 0.5, i.e. 3 of 5) are kept: below that the long tail of every occupation's ~100 elements would
-- make every user "lack" dozens of marginal skills and blow up the gap tables.
with onet_skills as (
    select * from {{ ref('stg_onet_skills') }}
)

select
    soc_code,
    skill_id,
    max(coalesce(importance, 0.5)) as importance,
    max(skill_level) as skill_level
from onet_skills
where coalesce(importance, 0.5) >= 0.5
group by soc_code, skill_id
