-- Dated location points per user (resumes carry location and region; HRIS carries region only).
with resumes as (
    select * from {{ ref('stg_resumes') }}
),

hris as (
    select * from {{ ref('stg_hris_employees') }}
)

select
    user_key,
    location,
    region,
    submitted_date as effective_date
from resumes
where user_key is not null
union all
select
    user_key,
    null as location,
    region,
    min(snapshot_date) as effective_date
from hris
where user_key is not null
group by user_key, region
