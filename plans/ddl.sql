-- Plans: versioned learning plans, the review queue, the LLM call ledger, the response cache and follow-ups.
-- Idempotent; run by core.database.bootstrap. Names are a contract with monitoring (#14) and boards (#15):
-- add columns, never rename or drop (see /work/coord/CONTRACTS.md).
create schema if not exists plans;

-- One row per plan written (any provider), whatever became of it.
create table if not exists plans.plan_versions (
    plan_id bigserial primary key,
    user_key text not null,
    as_of_date date not null,
    plan jsonb not null,
    schema_version text not null,
    inputs_fingerprint text not null,
    provider text not null,          -- offline | <provider name> | human (an edit)
    model text not null,
    prompt_version text not null,
    tokens_in integer not null default 0,
    tokens_out integer not null default 0,
    cost_usd numeric(12, 6) not null default 0,
    guardrail_passed boolean not null,
    guardrail_reasons jsonb not null default '[]',
    fallback_reason text,
    status text not null check (
        status in ('auto_approved', 'pending_review', 'approved', 'rejected', 'expired_fallback', 'superseded')
    ),
    run_id text not null,
    created_at timestamptz not null default now(),
    approved_at timestamptz
);
create index if not exists plan_versions_user on plans.plan_versions (user_key, plan_id desc);
create index if not exists plan_versions_night on plans.plan_versions (as_of_date, run_id);

-- Plans waiting for (or decided by) a human. Reviewers write only the decision columns.
create table if not exists plans.review_queue (
    plan_id bigint primary key references plans.plan_versions (plan_id),
    user_key text not null,
    as_of_date date not null,
    queued_reason text not null,
    previous_plan_id bigint,
    status text not null default 'pending' check (status in ('pending', 'approved', 'rejected', 'edited')),
    reviewer text,
    decided_at timestamptz,
    edited_plan jsonb,
    decision_reason text,
    deadline timestamptz not null,
    applied_at timestamptz            -- when a night honoured the decision (platform only)
);
create index if not exists review_queue_pending on plans.review_queue (status, deadline);

-- One row per ATTEMPT at a model (retries, failures and cache hits included): the cost ledger.
create table if not exists plans.llm_calls (
    call_id bigserial primary key,
    run_id text not null,
    as_of_date date not null,
    user_key text,
    task text not null,
    provider text not null,
    model text not null,
    attempt integer not null,
    outcome text not null,           -- ok | rate_limited | server_error | timeout | malformed | invalid | ...
    tokens_in integer not null default 0,
    tokens_out integer not null default 0,
    cost_usd numeric(12, 6) not null default 0,
    latency_ms integer not null default 0,
    cache_hit boolean not null default false,
    error text,
    created_at timestamptz not null default now()
);
create index if not exists llm_calls_run on plans.llm_calls (run_id);

-- Responses by hash(task, model, prompt version, prompt): a re-run of a night costs no tokens.
create table if not exists plans.llm_cache (
    cache_key text primary key,
    task text not null,
    model text not null,
    prompt_version text not null,
    response text not null,
    tokens_in integer not null,
    tokens_out integer not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);

-- A pinned plan stays the user's plan (no regeneration) until unpinned.
create table if not exists plans.pins (
    user_key text primary key,
    plan_id bigint not null references plans.plan_versions (plan_id),
    pinned_by text not null,
    reason text,
    pinned_at timestamptz not null default now()
);

-- Follow-up actions of published plans; the night marks them from the user's events.
create table if not exists plans.follow_ups (
    follow_up_id bigserial primary key,
    user_key text not null,
    plan_id bigint not null references plans.plan_versions (plan_id),
    kind text not null check (kind in ('apply_after_module', 'check_in')),
    job_id text,
    module_id text,
    due_date date not null,
    status text not null default 'open' check (status in ('open', 'done', 'overdue', 'cancelled')),
    message text not null,
    status_changed_on date,
    status_reason text,
    created_at timestamptz not null default now()
);
create index if not exists follow_ups_user on plans.follow_ups (user_key, status);

-- Follow-up messages written for due follow-ups (task "follow_up", through the router).
create table if not exists plans.follow_up_messages (
    follow_up_id bigint not null references plans.follow_ups (follow_up_id),
    as_of_date date not null,
    message text not null,
    provider text not null,
    fallback_reason text,
    run_id text not null,
    primary key (follow_up_id, as_of_date)
);

-- Weekly progress summaries (task "weekly_summary", through the router), one per user and ISO week
-- (week_start = its Monday): a re-run of the week upserts the same row.
create table if not exists plans.weekly_summaries (
    user_key text not null,
    week_start date not null,
    as_of_date date not null,
    plan_id bigint not null references plans.plan_versions (plan_id),
    summary jsonb not null,           -- plans.weekly.WeeklySummary: the note and the ids it cites
    facts jsonb not null,             -- plans.weekly.WeeklyFacts it was written from
    provider text not null,
    model text not null,
    prompt_version text not null,
    tokens_in integer not null default 0,
    tokens_out integer not null default 0,
    cost_usd numeric(12, 6) not null default 0,
    fallback_reason text,
    rejected_reasons jsonb not null default '[]',
    run_id text not null,
    written_at timestamptz not null default now(),
    primary key (user_key, week_start)
);

-- What the night published: the current plan of each user (write-audit-publish to marts.user_plans).
create table if not exists marts_build.user_plans (
    user_key text primary key,
    as_of_date date not null,
    plan_id bigint not null,
    plan jsonb not null,
    provider text not null,
    status text not null,
    approved_at timestamptz
);

do $$
begin
    if not exists (select from pg_roles where rolname = 'kairoo_reviewer') then
        create role kairoo_reviewer login;
    end if;
end
$$;
-- Reviewers see plans and the queue, and may only write the decision columns of the queue.
grant usage on schema plans to kairoo_reviewer;
grant select on plans.plan_versions, plans.review_queue to kairoo_reviewer;
grant update (status, reviewer, decided_at, edited_plan, decision_reason) on plans.review_queue to kairoo_reviewer;
grant usage on schema plans to kairoo_analyst;
grant select on all tables in schema plans to kairoo_analyst;
