-- Internal mobility and attrition by department and HRIS snapshot day. Each employee's snapshot is
-- compared with their previous one: a department change is a move out of the old department and
-- into the new one; a higher job level in the same department is a promotion; a new job role in
-- the same department and level is a lateral move; turning terminated is attrition; a first
-- appearance is a hire.
with snapshots as (
    select
        *,
        lag(department) over employee_history as previous_department,
        lag(job_level) over employee_history as previous_job_level,
        lag(job_role) over employee_history as previous_job_role,
        lag(employment_status) over employee_history as previous_status
    from {{ ref('stg_hris_employees') }}
    window employee_history as (partition by tenant_id, employee_key order by snapshot_date)
),

changes as (
    select
        snapshot_date,
        department,
        previous_department,
        (employment_status <> 'terminated') as is_active,
        (previous_status is null and employment_status <> 'terminated') as is_hire,
        (employment_status = 'terminated' and coalesce(previous_status, '') <> 'terminated') as is_termination,
        (previous_department is not null and previous_department <> department) as is_department_move,
        (previous_department = department and job_level > previous_job_level) as is_promotion,
        (previous_department = department and job_level = previous_job_level and job_role <> previous_job_role)
            as is_lateral_move
    from snapshots
),

arrivals as (
    select
        snapshot_date,
        department,
        count(*) filter (where is_active) as headcount,
        count(*) filter (where is_hire) as hires,
        count(*) filter (where is_termination) as terminations,
        count(*) filter (where is_department_move) as moves_in,
        count(*) filter (where is_promotion) as promotions,
        count(*) filter (where is_lateral_move) as lateral_moves
    from changes
    group by snapshot_date, department
),

departures as (
    select
        snapshot_date,
        previous_department as department,
        count(*) as moves_out
    from changes
    where is_department_move
    group by snapshot_date, previous_department
)

select
    arrivals.snapshot_date,
    arrivals.department,
    arrivals.headcount::integer as headcount,
    arrivals.hires::integer as hires,
    arrivals.terminations::integer as terminations,
    arrivals.moves_in::integer as moves_in,
    coalesce(departures.moves_out, 0)::integer as moves_out,
    arrivals.promotions::integer as promotions,
    arrivals.lateral_moves::integer as lateral_moves,
    round(arrivals.terminations::numeric / nullif(arrivals.headcount, 0), 4) as attrition_rate,
    round(
        (arrivals.moves_in + arrivals.promotions + arrivals.lateral_moves)::numeric / nullif(arrivals.headcount, 0), 4
    ) as internal_mobility_rate
from arrivals
left join departures
    on arrivals.snapshot_date = departures.snapshot_date and arrivals.department = departures.department
where arrivals.department is not null
