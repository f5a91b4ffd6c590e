-- One row per pseudonymized user: where they are, who they are (protected attributes, read only by
-- the bias check and dashboards, never by the model), how they joined, their HRIS situation.
-- HRIS is authoritative for employees; otherwise the latest resume.
with latest_resumes as (
    select distinct on (user_key) *
    from {{ ref('stg_resumes') }}
    where user_key is not null
    order by user_key asc, submitted_at desc, resume_id desc
),

first_resumes as (
    select
        user_key,
        min(submitted_date) as first_resume_date
    from {{ ref('stg_resumes') }}
    where user_key is not null
    group by user_key
),

employees as (
    select distinct on (user_key) *
    from {{ ref('int_hris_latest') }}
    where user_key is not null
    order by user_key asc, snapshot_date desc, hire_date desc nulls last
),

spans as (
    select * from {{ ref('int_user_activity_span') }}
),

tenants as (
    select * from {{ ref('int_user_tenants') }}
),

all_users as (
    select user_key from latest_resumes
    union
    select user_key from employees
    union
    select user_key from spans
)

select
    all_users.user_key,
    coalesce(employees.region, latest_resumes.region) as region,
    coalesce(employees.age_band, latest_resumes.age_band) as age_band,
    coalesce(employees.gender, latest_resumes.gender) as gender,
    latest_resumes.location,
    latest_resumes.category as resume_category,
    latest_resumes.education_level,
    latest_resumes.years_experience::numeric(5, 2) as years_experience,
    least(first_resumes.first_resume_date, spans.first_active_date, employees.hire_date) as signup_date,
    first_resumes.first_resume_date,
    spans.first_active_date,
    spans.last_active_date,
    (employees.employee_key is not null) as is_employee,
    coalesce(tenants.tenant_id, 'direct') as tenant_id,
    employees.department,
    employees.job_role,
    employees.job_level,
    employees.soc_code,
    employees.hire_date,
    employees.employment_status
from all_users
left join latest_resumes on all_users.user_key = latest_resumes.user_key
left join first_resumes on all_users.user_key = first_resumes.user_key
left join employees on all_users.user_key = employees.user_key
left join spans on all_users.user_key = spans.user_key
left join tenants on all_users.user_key = tenants.user_key
