-- Waivers in force today: who accepted which known change, why, and until when.
with waivers as (
    select * from {{ source('monitoring', 'waivers') }}
)

select
    waiver_id,
    check_name,
    pattern,
    owner,
    reason,
    expires_on,
    created_at,
    (expires_on - current_date)::integer as days_left
from waivers
where expires_on >= current_date
