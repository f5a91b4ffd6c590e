{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['user_key', 'module_id'],
        post_hook=["create index if not exists {{ this.name }}__key on {{ this }} (user_key, module_id)"],
    )
}}
-- Where each learner stands on each module they touched: started, furthest progress, completed.
-- Folded with the stored row of the same (user, module), so the night reads only its window and
-- re-processing the lookback is idempotent (min/max only).
with user_items as (
    select * from {{ ref('int_user_item_daily') }}
    where {{ date_in_window('event_date') }} and item_type = 'module'
),

window_progress as (
    select
        user_key,
        item_id as module_id,
        min(event_date) as started_date,
        max(event_date) as last_activity_date,
        max(max_progress_pct) as max_progress_pct,
        min(event_date) filter (where grade = 3) as completed_date
    from user_items
    group by user_key, item_id
),

{% if is_incremental() %}
    stored_progress as (
        select
            kept.user_key,
            kept.module_id,
            kept.started_date,
            kept.last_activity_date,
            kept.max_progress_pct,
            kept.completed_date
        from {{ this }} as kept
        inner join window_progress
            on kept.user_key = window_progress.user_key and kept.module_id = window_progress.module_id
    ),
{% else %}
    stored_progress as (
        select * from window_progress
        where false
    ),
{% endif %}

combined as (
    select * from window_progress
    union all
    select * from stored_progress
),

folded as (
    select
        user_key,
        module_id,
        min(started_date) as started_date,
        max(last_activity_date) as last_activity_date,
        max(max_progress_pct) as max_progress_pct,
        min(completed_date) as completed_date
    from combined
    group by user_key, module_id
)

select
    user_key,
    module_id,
    started_date,
    last_activity_date,
    case when completed_date is not null then 100 else max_progress_pct end as max_progress_pct,
    completed_date,
    case
        when completed_date is not null then 'completed'
        when coalesce(max_progress_pct, 0) > 0 then 'in_progress'
        else 'started'
    end as status
from folded
