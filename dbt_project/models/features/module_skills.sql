{{ config(materialized='view') }}
-- A view: the table behind it is built once in intermediate; ranking reads it once a night.
-- Ranking input: the skills a module teaches.
select
    module_id,
    skill_id
from {{ ref('int_module_skills') }}
