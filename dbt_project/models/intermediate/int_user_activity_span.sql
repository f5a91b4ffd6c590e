{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='user_key',
        post_hook=["create index if not exists {{ this.name }}__key on {{ this }} (user_key)"],
    )
}}
-- First and last active day per user (cohorts, new users, recency), folded with the stored row.
with activity as (
    select * from {{ ref('int_user_activity_daily') }}
    where {{ date_in_window('activity_date') }}
),

window_span as (
    select
        user_key,
        min(activity_date) as first_active_date,
        max(activity_date) as last_active_date
    from activity
    group by user_key
),

{% if is_incremental() %}
    stored_span as (
        select
            kept.user_key,
            kept.first_active_date,
            kept.last_active_date
        from {{ this }} as kept
        inner join window_span on kept.user_key = window_span.user_key
    ),
{% else %}
    stored_span as (
        select * from window_span
        where false
    ),
{% endif %}

combined as (
    select * from window_span
    union all
    select * from stored_span
)

select
    user_key,
    min(first_active_date) as first_active_date,
    max(last_active_date) as last_active_date
from combined
group by user_key
