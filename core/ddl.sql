-- Schemas, roles and the operational tables owned by the platform core. Idempotent.
--
-- raw          pseudonymized signals as loaded (ingestion)
-- pii_vault    original personal data, keyed by pseudonym; restricted
-- ops          manifests, ledgers, quarantine, schema history, quality results, publication log
-- staging, intermediate, features, marts_build   built by dbt (marts_build = audited, unpublished)
-- marts        what dashboards read: changes only through core.publish after the night's checks pass
-- ml           candidates and scores written by ranking

create schema if not exists raw;
create schema if not exists pii_vault;
create schema if not exists ops;
create schema if not exists staging;
create schema if not exists intermediate;
create schema if not exists features;
create schema if not exists marts_build;
create schema if not exists marts;
create schema if not exists ml;

do $$
begin
    -- Dashboards: published marts only.
    if not exists (select from pg_roles where rolname = 'kairoo_reader') then
        create role kairoo_reader login;
    end if;
    -- Analysts: marts plus pseudonymized raw and models; never the vault.
    if not exists (select from pg_roles where rolname = 'kairoo_analyst') then
        create role kairoo_analyst login;
    end if;
end
$$;

revoke all on schema pii_vault from public;
grant usage on schema marts to kairoo_reader, kairoo_analyst;
grant select on all tables in schema marts to kairoo_reader, kairoo_analyst;
alter default privileges in schema marts grant select on tables to kairoo_reader, kairoo_analyst;

grant usage on schema raw, staging, intermediate, features, marts_build, ml, ops to kairoo_analyst;
grant select on all tables in schema raw, staging, intermediate, features, marts_build, ml, ops to kairoo_analyst;
alter default privileges in schema raw, staging, intermediate, features, marts_build, ml, ops
    grant select on tables to kairoo_analyst;

-- One row per suite evaluation: the publication gate reads it (nothing unchecked is published).
create table if not exists ops.quality_results (
    run_id text not null,
    partition_key text,
    suite text not null,
    target text not null,
    success boolean not null,
    evaluated integer not null,
    failed integer not null,
    details jsonb not null,
    checked_at timestamptz not null default now()
);
create index if not exists quality_results_run on ops.quality_results (run_id);

-- One row per published table per night.
create table if not exists ops.publish_log (
    run_id text not null,
    partition_key text,
    table_name text not null,
    mode text not null,              -- window | full | created
    window_start date,
    window_end date,
    rows_published bigint not null,
    published_at timestamptz not null default now()
);

-- Failed runs, written by the run-failure sensor, for the data team's board.
create table if not exists ops.run_failures (
    run_id text primary key,
    job_name text not null,
    partition_key text,
    failed_steps text[],
    message text,
    failed_at timestamptz not null default now()
);
