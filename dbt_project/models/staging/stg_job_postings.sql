-- Job postings, typed. One row per job_id already (unique key in raw).
with source as (
    select * from {{ source('raw', 'job_postings') }}
)

select
    job_id,
    title,
    company,
    category,
    location,
    region,
    required_skills as required_skills_text,
    job_level,
    onet_soc_code as soc_code,
    salary_text,
    posted_at,
    (posted_at at time zone 'utc')::date as posted_date,
    _loaded_at as loaded_at
from source
