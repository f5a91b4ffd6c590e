-- One row per night and run: the worst gate status is the night's verdict; a gate counts as passed
-- when it passed or only warned.
with verdicts as (
    select * from {{ source('monitoring', 'night_verdicts') }}
),

latest as (
    -- A gate re-decided in the same run (the night's summary re-reads waivers) counts once: its last word.
    select distinct on (run_id, as_of_date, gate)
        run_id,
        as_of_date,
        gate,
        status,
        waiver_id,
        decided_at
    from verdicts
    order by run_id asc, as_of_date asc, gate asc, decided_at desc
)

select
    as_of_date,
    run_id,
    (case
        when bool_or(status = 'block') then 'block'
        when bool_or(status = 'warn') then 'warn'
        else 'pass'
    end)::text as verdict,
    count(*) filter (where status in ('pass', 'warn'))::integer as checks_passed,
    count(*) filter (where status = 'block')::integer as checks_failed,
    count(*) filter (where status = 'warn')::integer as checks_warned,
    count(waiver_id)::integer as waivers_applied,
    string_agg(gate, ', ' order by gate) filter (where status = 'block')::text as blocked_gates,
    max(decided_at) as decided_at
from latest
group by as_of_date, run_id
