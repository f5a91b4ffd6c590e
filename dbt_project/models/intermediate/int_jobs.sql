-- Current postings with their occupation.
with postings as (
    select * from {{ ref('stg_job_postings') }}
),

occupations as (
    select * from {{ ref('stg_onet_occupations') }}
)

select
    postings.job_id,
    postings.title,
    postings.company,
    postings.category,
    postings.location,
    postings.region,
    postings.job_level,
    postings.soc_code,
    occupations.title as occupation_title,
    postings.required_skills_text,
    postings.posted_at,
    postings.posted_date
from postings
left join occupations on postings.soc_code = occupations.soc_code
