-- Bias measures per night, surface, protected attribute and group, with the four-fifths rule's verdict.
with bias as (
    select * from {{ source('monitoring', 'bias_results') }}
)

select
    as_of_date,
    run_id,
    surface,
    attribute,
    group_value,
    metric,
    value,
    ratio,
    threshold,
    passed,
    users
from bias
