-- Each employee as of their latest HRIS snapshot.
with hris as (
    select * from {{ ref('stg_hris_employees') }}
)

select distinct on (tenant_id, employee_key) *
from hris
order by tenant_id asc, employee_key asc, snapshot_date desc
