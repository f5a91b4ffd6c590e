{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['user_key', 'target_soc_code'],
        post_hook=["create index if not exists {{ this.name }}__key on {{ this }} (user_key, target_soc_code)"],
    )
}}
-- Occupations a user aims at: those of jobs they saved or applied to. Kept as first/last day
-- targeted, folded with the stored rows of the same keys, so a night reads only its window and
-- re-processing a day (lookback) changes nothing (min/max are idempotent).
with user_items as (
    select * from {{ ref('int_user_item_daily') }}
    where {{ date_in_window('event_date') }} and item_type = 'job' and grade >= 2
),

jobs as (
    select * from {{ ref('int_jobs') }}
),

window_targets as (
    select
        user_items.user_key,
        jobs.soc_code as target_soc_code,
        min(user_items.event_date) as first_targeted_date,
        max(user_items.event_date) as last_targeted_date
    from user_items
    inner join jobs on user_items.item_id = jobs.job_id
    where jobs.soc_code is not null
    group by user_items.user_key, jobs.soc_code
),

{% if is_incremental() %}
    stored_targets as (
        select
            kept.user_key,
            kept.target_soc_code,
            kept.first_targeted_date,
            kept.last_targeted_date
        from {{ this }} as kept
        inner join window_targets
            on kept.user_key = window_targets.user_key and kept.target_soc_code = window_targets.target_soc_code
    ),
{% else %}
    stored_targets as (
        select * from window_targets
        where false
    ),
{% endif %}

combined as (
    select * from window_targets
    union all
    select * from stored_targets
)

select
    user_key,
    target_soc_code,
    min(first_targeted_date) as first_targeted_date,
    max(last_targeted_date) as last_targeted_date
from combined
group by user_key, target_soc_code
