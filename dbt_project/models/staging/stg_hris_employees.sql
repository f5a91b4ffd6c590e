-- HRIS snapshots, typed: one row per tenant, employee and snapshot day (unique key in raw).
with source as (
    select * from {{ source('raw', 'hris_employees') }}
)

select
    tenant_id,
    employee_key,
    user_key,
    manager_key,
    department,
    job_role,
    job_level,
    onet_soc_code as soc_code,
    hire_date,
    termination_date,
    lower(employment_status) as employment_status,
    gender,
    age_band,
    region,
    snapshot_date,
    _loaded_at as loaded_at
from source
