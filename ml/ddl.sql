-- Tables owned by ranking (ml/). Idempotent: core.database.bootstrap runs this file every night.

-- Retrieval output: per user and as-of date, the items worth ranking. The dbt table
-- features.candidate_pair_features (incremental by as_of_date) joins point-in-time features onto these rows.
create table if not exists ml.candidates (
    as_of_date date not null,
    user_key text not null,
    item_type text not null,          -- job | module
    item_id text not null,
    retrieval_score double precision not null,
    retrieval_rank integer not null   -- 1 = best retrieval score for this user and item type
);
-- The skill match of each pair, computed with retrieval from the same sparse vectors
-- (ml.sparse.pair_skill_features); features.candidate_pair_features adds the point-in-time context features.
alter table ml.candidates add column if not exists skill_overlap_count integer;
alter table ml.candidates add column if not exists skill_overlap_weighted double precision;
alter table ml.candidates add column if not exists gap_coverage double precision;
-- Rewrites and reads are always per as-of date (delete + copy, then dbt's incremental pair features).
create index if not exists candidates_as_of on ml.candidates (as_of_date, item_type, user_key);

-- Nightly recommendations from the champion model, audited in marts_build and published with the marts.
create table if not exists marts_build.recommendations_jobs (
    as_of_date date not null,
    user_key text not null,
    item_id text not null,
    rank integer not null,
    score double precision not null,
    model_name text not null,
    model_version text not null
);
create index if not exists recommendations_jobs_as_of on marts_build.recommendations_jobs (as_of_date);

create table if not exists marts_build.recommendations_modules (
    as_of_date date not null,
    user_key text not null,
    item_id text not null,
    rank integer not null,
    score double precision not null,
    model_name text not null,
    model_version text not null
);
create index if not exists recommendations_modules_as_of on marts_build.recommendations_modules (as_of_date);
