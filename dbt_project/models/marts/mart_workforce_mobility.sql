-- Internal mobility and attrition by tenant and department, per HRIS day with changes (each enterprise
-- tenant is a separate customer: their departments are never added together). HRIS feeds deliver a full
-- snapshot first and then only changed records, so each record is compared with the same employee's
-- previous record: a department change is a move out of the old department and into the new one; a
-- higher job level in the same department is a promotion; a new role at the same level is a lateral
-- move; turning terminated is attrition; a first active record is a hire. Headcount is the running sum
-- of arrivals minus departures per department, which is right for full snapshots and deltas alike.
with records as (
    select
        tenant_id,
        employee_key,
        snapshot_date,
        department,
        job_role,
        job_level,
        (employment_status is distinct from 'terminated') as is_active,
        lag(department) over employee_history as previous_department,
        lag(job_level) over employee_history as previous_job_level,
        lag(job_role) over employee_history as previous_job_role,
        lag(employment_status is distinct from 'terminated') over employee_history as was_active
    from {{ ref('stg_hris_employees') }}
    window employee_history as (partition by tenant_id, employee_key order by snapshot_date)
),

changes as (
    select
        tenant_id,
        snapshot_date,
        department,
        previous_department,
        is_active,
        was_active,
        (is_active and was_active is null) as is_hire,
        (not is_active and coalesce(was_active, false)) as is_termination,
        (is_active and was_active and previous_department is distinct from department) as is_department_move,
        (is_active and was_active and previous_department = department and job_level > previous_job_level)
            as is_promotion,
        (
            is_active and was_active and previous_department = department and job_level = previous_job_level
            and job_role is distinct from previous_job_role
        ) as is_lateral_move
    from records
),

headcount_deltas as (
    -- an employee counts in a department from the record that makes them active there
    select
        tenant_id,
        snapshot_date,
        department,
        1 as delta
    from changes
    where is_active and (not coalesce(was_active, false) or previous_department is distinct from department)
    union all
    -- and stops counting in their previous department when they leave it or the company
    select
        tenant_id,
        snapshot_date,
        previous_department as department,
        -1 as delta
    from changes
    where was_active and (not is_active or previous_department is distinct from department)
),

arrivals as (
    select
        tenant_id,
        snapshot_date,
        department,
        count(*) filter (where is_hire) as hires,
        count(*) filter (where is_termination) as terminations,
        count(*) filter (where is_department_move) as moves_in,
        count(*) filter (where is_promotion) as promotions,
        count(*) filter (where is_lateral_move) as lateral_moves
    from changes
    group by tenant_id, snapshot_date, department
),

departures as (
    select
        tenant_id,
        snapshot_date,
        previous_department as department,
        count(*) as moves_out
    from changes
    where is_department_move
    group by tenant_id, snapshot_date, previous_department
),

daily_deltas as (
    select
        tenant_id,
        snapshot_date,
        department,
        sum(delta) as delta
    from headcount_deltas
    group by tenant_id, snapshot_date, department
),

days as (
    select
        tenant_id,
        snapshot_date,
        department
    from arrivals
    union
    select
        tenant_id,
        snapshot_date,
        department
    from departures
    union
    select
        tenant_id,
        snapshot_date,
        department
    from daily_deltas
),

headcount as (
    select
        days.tenant_id,
        days.snapshot_date,
        days.department,
        sum(coalesce(daily_deltas.delta, 0)) over (
            partition by days.tenant_id, days.department order by days.snapshot_date rows unbounded preceding
        ) as headcount
    from days
    left join daily_deltas
        on
            days.tenant_id = daily_deltas.tenant_id
            and days.snapshot_date = daily_deltas.snapshot_date
            and days.department = daily_deltas.department
)

select
    headcount.snapshot_date,
    headcount.tenant_id,
    headcount.department,
    headcount.headcount::integer as headcount,
    coalesce(arrivals.hires, 0)::integer as hires,
    coalesce(arrivals.terminations, 0)::integer as terminations,
    coalesce(arrivals.moves_in, 0)::integer as moves_in,
    coalesce(departures.moves_out, 0)::integer as moves_out,
    coalesce(arrivals.promotions, 0)::integer as promotions,
    coalesce(arrivals.lateral_moves, 0)::integer as lateral_moves,
    round(coalesce(arrivals.terminations, 0)::numeric / nullif(headcount.headcount, 0), 4)::numeric(9, 4)
        as attrition_rate,
    round(
        (
            coalesce(arrivals.moves_in, 0) + coalesce(arrivals.promotions, 0) + coalesce(arrivals.lateral_moves, 0)
        )::numeric / nullif(headcount.headcount, 0),
        4
    )::numeric(9, 4) as internal_mobility_rate
from headcount
left join arrivals
    on
        headcount.tenant_id = arrivals.tenant_id
        and headcount.snapshot_date = arrivals.snapshot_date
        and headcount.department = arrivals.department
left join departures
    on
        headcount.tenant_id = departures.tenant_id
        and headcount.snapshot_date = departures.snapshot_date
        and headcount.department = departures.department
where headcount.department is not null
