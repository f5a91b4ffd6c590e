-- Which enterprise tenant each pseudonymized user belongs to, by their latest HRIS record (the same
-- rule dim_users uses for the rest of their HRIS situation); users no tenant employs are 'direct'
-- (consumers of the product). One tenant per user, so per-tenant distinct counts add up to the total.
with employees as (
    select distinct on (user_key)
        user_key,
        tenant_id
    from {{ ref('int_hris_latest') }}
    where user_key is not null
    order by user_key asc, snapshot_date desc, hire_date desc nulls last
)

select
    user_key,
    tenant_id
from employees
