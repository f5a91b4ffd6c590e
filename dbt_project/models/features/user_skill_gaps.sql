{{ config(materialized='view') }}
-- A view: the table behind it is built once in intermediate; ranking reads it once a night.
-- Ranking and planning input: what a user lacks for each occupation they aim at.
select
    user_key,
    target_soc_code,
    skill_id,
    gap_weight::double precision as gap_weight
from {{ ref('int_skill_gaps') }}
