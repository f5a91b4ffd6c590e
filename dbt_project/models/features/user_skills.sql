{{ config(materialized='view') }}
-- A view: the table behind it is built once in intermediate; ranking reads it once a night.
-- Ranking input: a user's current skills (1 = claimed on a resume; < 1 inferred from a role held).
select
    user_key,
    skill_id,
    weight::double precision as weight
from {{ ref('int_user_skills') }}
