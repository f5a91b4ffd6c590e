-- Ranking input: the skills a module teaches.
select
    module_id,
    skill_id
from {{ ref('int_module_skills') }}
