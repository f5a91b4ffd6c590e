{{ config(materialized='view') }}
-- A view: the table behind it is built once in intermediate; ranking reads it once a night.
-- Ranking input: the skills a job needs and how much each matters (0-1).
select
    job_id,
    skill_id,
    importance::double precision as importance
from {{ ref('int_job_skills') }}
