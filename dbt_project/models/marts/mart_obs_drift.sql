-- Every drift test of every night: method, statistic and threshold as the gate saw them.
with drift as (
    select * from {{ source('monitoring', 'drift_results') }}
)

select
    as_of_date,
    run_id,
    dataset,
    segment,
    column_name,
    method,
    statistic,
    threshold,
    drifted,
    critical,
    (drifted and critical) as gating,
    reference_rows,
    current_rows,
    report_path
from drift
