{{
    day_window_incremental('event_date', [
        "create index if not exists {{ this.name }}__item on {{ this }} (item_type, item_id, event_date)",
    ])
}}
-- Per item and day: how many users touched it and how strongly (popularity features, module funnels).
with user_items as (
    select * from {{ ref('int_user_item_daily') }}
    where {{ date_in_window('event_date') }}
)

select
    item_type,
    item_id,
    event_date,
    count(*)::integer as users,
    sum(events)::integer as events,
    (count(*) filter (where grade = 3))::integer as top_grade_users,
    (count(*) filter (where grade >= 1))::integer as engaged_users
from user_items
group by event_date, item_type, item_id
order by event_date
