-- The latest score of every (day, metric, series): a day re-scored by a later run shows its last word.
with scores as (
    select * from {{ source('monitoring', 'anomaly_results') }}
)

select distinct on (as_of_date, metric, series)
    as_of_date,
    metric,
    series,
    value,
    baseline,
    mad,
    score,
    level,
    reason,
    history_days,
    run_id
from scores
order by as_of_date asc, metric asc, series asc, recorded_at desc
