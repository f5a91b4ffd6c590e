-- Monitoring-owned tables: the history of every drift test, bias measure, anomaly score, ranking-quality
-- figure and gate verdict, plus the waivers a data team grants. Idempotent; run by core.database.bootstrap.
-- Column names are a contract with the observability marts and the boards (docs/architecture.md):
-- add columns, never rename or drop.
create schema if not exists monitoring;

-- One row per (run, dataset, segment, column): the Evidently test with its explicit method and threshold.
create table if not exists monitoring.drift_results (
    run_id text not null,
    as_of_date date not null,
    dataset text not null,           -- pair_features | scores | signals | plans
    segment text not null,           -- e.g. job / module, a source, a provider
    column_name text not null,
    method text not null,            -- Evidently stattest name (wasserstein, jensenshannon, ...)
    statistic double precision,      -- the drift score (a distance for the methods we use)
    threshold double precision not null,
    drifted boolean not null,
    critical boolean not null,       -- a drifted critical column gates what it feeds
    report_path text,                -- the night's HTML report
    reference_rows integer,
    current_rows integer,
    recorded_at timestamptz not null default now()
);
create index if not exists drift_results_day on monitoring.drift_results (as_of_date, dataset);

-- One row per (run, surface, attribute, group, metric); ratio = group value / best group value.
create table if not exists monitoring.bias_results (
    run_id text not null,
    as_of_date date not null,
    -- challenger_{jobs,modules} | recommendations_{jobs,modules} (tonight's served lists) |
    -- recommendations_{jobs,modules}_judged (the previous night's lists, judged by the interactions since) | plans
    surface text not null,
    attribute text not null,         -- gender | age_band | region
    group_value text not null,
    -- selection_rate | exposure | ndcg10 | full_list_share | list_exposure | items_served | hours_planned |
    -- provider_share | modules_offered | fallback_share (monitoring.bias, monitoring.served_bias)
    metric text not null,
    value double precision,
    ratio double precision,
    threshold double precision,
    passed boolean,                  -- null: reported only (metric without a rule, or group too small)
    users integer,                   -- the group's units: judged queries, served or judged users, plans
    recorded_at timestamptz not null default now()
);
create index if not exists bias_results_day on monitoring.bias_results (as_of_date, surface);

-- One row per (run, day, metric, series): the day's value against its own robust history.
create table if not exists monitoring.anomaly_results (
    run_id text not null,
    as_of_date date not null,
    metric text not null,            -- source_volume | quarantine_rate | kpi | plan_cost
    series text not null,            -- the source, the KPI column, ...
    value double precision,
    baseline double precision,       -- median of the reference days (same weekday when enough)
    mad double precision,            -- median absolute deviation of the reference days
    score double precision,          -- (value - baseline) / (1.4826 * mad), floored
    level text not null check (level in ('ok', 'warn', 'error', 'insufficient_history')),
    reason text not null,
    history_days integer,
    recorded_at timestamptz not null default now()
);
create index if not exists anomaly_results_day on monitoring.anomaly_results (as_of_date, metric);

-- Yesterday's served recommendations scored against the interactions that arrived since.
create table if not exists monitoring.ranking_quality (
    as_of_date date not null,        -- the day the recommendations were served for
    item_type text not null,
    model_version text not null,
    ndcg10 double precision,
    recall double precision,         -- share of the users' engaged items that were in the served top k
    users integer not null,          -- served users with at least one interaction since
    label_date date,                 -- the day whose interactions judged them
    run_id text,
    recorded_at timestamptz not null default now(),
    primary key (as_of_date, item_type, model_version)
);

-- A data team's acceptance of a known change: a check whose name matches `check_name` and whose
-- subject (dataset/segment/column, metric/series, surface/attribute) matches `pattern` (SQL LIKE) is
-- downgraded from block to warn until `expires_on` (inclusive).
create table if not exists monitoring.waivers (
    waiver_id bigserial primary key,
    check_name text not null,        -- drift_gate | bias_gate | anomaly_gate | marts_gate | plans_gate
    pattern text not null default '%',
    owner text not null check (owner <> ''),
    reason text not null check (reason <> ''),
    expires_on date not null,
    created_at timestamptz not null default now()
);

-- The night's verdict, one row per gate: what passed, warned, blocked and which waiver applied.
create table if not exists monitoring.night_verdicts (
    run_id text not null,
    as_of_date date not null,
    gate text not null,
    status text not null check (status in ('pass', 'warn', 'block')),
    waiver_id bigint references monitoring.waivers (waiver_id),
    detail jsonb not null default '{}'::jsonb,
    decided_at timestamptz not null default now()
);
create index if not exists night_verdicts_day on monitoring.night_verdicts (as_of_date, gate);

grant usage on schema monitoring to kairoo_analyst;
grant select on all tables in schema monitoring to kairoo_analyst;
