{{ day_window_incremental('event_date') }}
-- Per user, item category and day: the user's interest in a category (recency-of-interest features).
with user_items as (
    select * from {{ ref('int_user_item_daily') }}
    where {{ date_in_window('event_date') }} and item_type in ('job', 'module')
),

items as (
    select * from {{ ref('int_items') }}
)

select
    user_items.user_key,
    user_items.item_type,
    items.category,
    user_items.event_date,
    sum(user_items.events)::integer as events,
    max(user_items.grade) as max_grade
from user_items
inner join items
    on user_items.item_type = items.item_type and user_items.item_id = items.item_id
where items.category is not null
group by user_items.event_date, user_items.user_key, user_items.item_type, items.category
order by user_items.event_date
