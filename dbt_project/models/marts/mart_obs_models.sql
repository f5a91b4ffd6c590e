-- Per served day and item type: the model version that served, whether it changed since the previous
-- served day (a promotion), how it did once labels arrived, and what the challenger gate said that night.
with quality as (
    select * from {{ source('monitoring', 'ranking_quality') }}
),

gate as (
    select distinct on (as_of_date)
        as_of_date,
        status as challenger_gate,
        detail -> 'blocked' as refusal_reasons
    from {{ source('monitoring', 'night_verdicts') }}
    where gate = 'challenger_gate'
    order by as_of_date asc, decided_at desc
),

served as (
    select
        as_of_date,
        item_type,
        model_version,
        ndcg10,
        recall,
        users,
        lag(model_version) over (partition by item_type order by as_of_date) as previous_version
    from quality
)

select
    served.as_of_date,
    served.item_type,
    served.model_version,
    served.previous_version,
    coalesce(
        served.model_version is distinct from served.previous_version
        and served.previous_version is not null,
        false
    ) as promoted,
    served.ndcg10,
    served.recall,
    served.users,
    gate.challenger_gate,
    gate.refusal_reasons::text as refusal_reasons
from served
left join gate on served.as_of_date = gate.as_of_date
