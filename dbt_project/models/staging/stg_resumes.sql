-- Resumes, typed. One row per resume_id already (ingestion keeps the latest load: unique key).
with source as (
    select * from {{ source('raw', 'resumes') }}
)

select
    resume_id,
    user_key,
    headline,
    category,
    skills as skills_text,
    years_experience,
    lower(education_level) as education_level,
    location,
    region,
    gender,
    age_band,
    submitted_at,
    (submitted_at at time zone 'utc')::date as submitted_date,
    _loaded_at as loaded_at
from source
