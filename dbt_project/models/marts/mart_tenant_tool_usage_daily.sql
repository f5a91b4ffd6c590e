{{ day_window_incremental('usage_date') }}
-- Career-tool usage (interview coach, resume review, ...) per tenant, day and tool: the tenant
-- filter of the executive dashboard needs the split fct_tool_usage_daily does not keep. Sessions as
-- int_tool_sessions cuts them (30-minute gap), each on the day it started.
with sessions as (
    select * from {{ ref('int_tool_sessions') }}
    where {{ date_in_window('session_date') }}
),

tenants as (
    select * from {{ ref('int_user_tenants') }}
)

select
    sessions.session_date as usage_date,
    coalesce(tenants.tenant_id, 'direct') as tenant_id,
    sessions.tool_id,
    count(distinct sessions.user_key)::integer as active_users,
    count(*)::integer as sessions,
    sum(sessions.span_seconds)::bigint as session_seconds
from sessions
left join tenants on sessions.user_key = tenants.user_key
group by sessions.session_date, coalesce(tenants.tenant_id, 'direct'), sessions.tool_id
order by usage_date, tenant_id, sessions.tool_id
