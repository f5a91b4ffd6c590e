-- O*NET elements per occupation (one row per soc_code and skill_id in raw).
with source as (
    select * from {{ source('raw', 'onet_skills') }}
)

select
    soc_code,
    skill_id,
    skill_name,
    lower(skill_kind) as skill_kind,
    importance,
    level as skill_level
from source
