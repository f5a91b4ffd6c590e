-- Skills a learning module teaches (its catalogue skill list resolved to skill ids).
with modules as (
    select * from {{ ref('stg_learning_modules') }}
),

vocabulary as (
    select * from {{ ref('int_skill_vocabulary') }}
)

select distinct
    modules.module_id,
    vocabulary.skill_id
from modules
cross join lateral unnest(string_to_array(modules.skills_text, ';')) as listed (skill_name)
inner join vocabulary on lower(trim(listed.skill_name)) = vocabulary.skill_name_norm
