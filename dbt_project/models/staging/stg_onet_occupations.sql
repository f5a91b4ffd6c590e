-- O*NET occupations (one row per soc_code in raw).
with source as (
    select * from {{ source('raw', 'onet_occupations') }}
)

select
    soc_code,
    title,
    description,
    job_zone
from source
