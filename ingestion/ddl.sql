-- Ingestion-owned tables: raw signals (pseudonymized), the PII vault, and the operational ledger.
-- Idempotent; run by core.database.bootstrap after core/ddl.sql. Column lists of raw.* and pii_vault.*
-- must match ingestion/contracts/*.yaml (tests/test_ingest_contracts.py checks it).

-- ---------------------------------------------------------------- ops: what arrived, what happened
-- One row per distinct landed file (path + checksum). Re-delivering the same bytes under any path is a
-- `duplicate`; the same path with new bytes is a new row and replaces the old file's rows.
create table if not exists ops.file_manifest (
    file_id bigserial primary key,
    source text not null,
    path text not null,
    partition_date date,
    size_bytes bigint not null,
    sha256 text not null,
    contract_version text,
    status text not null,            -- loading | loaded | duplicate | rejected | empty | replaced
    rows_read bigint not null default 0,
    rows_loaded bigint not null default 0,
    rows_quarantined bigint not null default 0,
    error text,
    quarantine_copy text,            -- where the rejected file's bytes were copied (if the copy succeeded)
    first_seen_at timestamptz not null default now(),
    loaded_at timestamptz,
    unique (source, path, sha256)
);
create index if not exists file_manifest_sha on ops.file_manifest (source, sha256);

-- One row per load attempt: the accounting the data team reads (rows_read = loaded + quarantined).
create table if not exists ops.load_ledger (
    ledger_id bigserial primary key,
    file_id bigint not null references ops.file_manifest (file_id),
    source text not null,
    status text not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    bytes bigint not null,
    seconds double precision not null,
    recorded_at timestamptz not null default now(),
    constraint ledger_balanced check (rows_read = rows_loaded + rows_quarantined)
);

-- Rows (line not null) or whole files (line null) that did not load, with the rule they broke.
-- raw_text here is masked (identifiers hashed, direct PII removed); the original is in the vault.
create table if not exists ops.quarantine (
    quarantine_id bigserial primary key,
    file_id bigint not null references ops.file_manifest (file_id),
    source text not null,
    path text not null,
    line bigint,
    rule text not null,
    column_name text,
    message text not null,
    raw_text text,
    quarantined_at timestamptz not null default now()
);
create index if not exists quarantine_file on ops.quarantine (file_id);

-- Additive (accepted) and breaking (rejected) schema changes seen per source.
create table if not exists ops.schema_history (
    source text not null,
    contract_version text not null,
    file_id bigint not null references ops.file_manifest (file_id),
    change text not null,            -- added_column | missing_optional | missing_required | incompatible_type
    column_name text not null,
    detail text,
    pii_class text,
    detected_at timestamptz not null default now()
);

-- Whether `v` is a valid input of type `typ`, for servers without pg_input_is_valid (PostgreSQL 15).
-- An exception block costs a subtransaction per call (measured on 15.20, 1M values: 2.7 s per column
-- vs 0.1 s for pg_input_is_valid on 16), so the loader calls it only for a column whose plain cast
-- failed on the file (ingestion/loader.py `_validity`); clean columns pay one cast pass.
create or replace function ops.input_is_valid(v text, typ text) returns boolean
language plpgsql stable parallel safe as $$
begin
    case typ
        when 'integer' then perform v::integer;
        when 'numeric' then perform v::numeric;
        when 'timestamp with time zone' then perform v::timestamptz;
        when 'date' then perform v::date;
        when 'boolean' then perform v::boolean;
    end case;
    return true;
exception when data_exception then
    return false;
end
$$;

-- Age band from a birth date at a reference date (HRIS keeps only the band outside the vault).
create or replace function ops.age_band(dob date, at_date date) returns text
language sql immutable as $$
    select case
        when dob is null or at_date is null then null
        when extract(year from age(at_date, dob)) < 25 then '<25'
        when extract(year from age(at_date, dob)) < 35 then '25-34'
        when extract(year from age(at_date, dob)) < 45 then '35-44'
        when extract(year from age(at_date, dob)) < 55 then '45-54'
        else '55+'
    end
$$;

create or replace function ops.age_band_of_age(age integer) returns text
language sql immutable as $$
    select case
        when age is null then null
        when age < 25 then '<25'
        when age < 35 then '25-34'
        when age < 45 then '35-44'
        when age < 55 then '45-54'
        else '55+'
    end
$$;

-- Redact personal data from free text: e-mails, profile/web URLs, phone numbers, street addresses and
-- the person's own name parts (when the record knows the name). Python mirror for classification:
-- ingestion/pii.py (same patterns).
create or replace function ops.redact_pii(t text, person text default null) returns text
language plpgsql immutable parallel safe as $$
declare
    part text;
begin
    if t is null then
        return null;
    end if;
    t := regexp_replace(t, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}', '[EMAIL]', 'g');
    t := regexp_replace(t, '(https?://|www\.)[^\s<>"'']+', '[URL]', 'gi');
    t := regexp_replace(t, '\m(linkedin\.com|github\.com|facebook\.com|twitter\.com)/[^\s<>"'']*', '[URL]', 'gi');
    t := regexp_replace(
        t, '(?<![\w])\+?(\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,4}(?![\w])', '[PHONE]', 'g'
    );
    t := regexp_replace(
        t,
        '\m\d{1,5}\s+([A-Z][A-Za-z]+\s+){1,3}(Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl)\M\.?',
        '[ADDRESS]', 'g'
    );
    if person is not null then
        foreach part in array regexp_split_to_array(person, '[^[:alpha:]''-]+') loop
            if length(part) >= 2 then
                t := regexp_replace(
                    t, '\m' || regexp_replace(part, '([.^$*+?()\[\]{}|\\-])', '\\\1', 'g') || '\M', '[NAME]', 'gi'
                );
            end if;
        end loop;
    end if;
    return t;
end
$$;

-- ---------------------------------------------------------------- raw: pseudonymized signals
-- Key columns use the "C" collation: byte order makes the unique-key index (the exactly-once guard)
-- cheaper to maintain than a linguistic collation, and keys have no linguistic order anyway.
create table if not exists raw.resumes (
    resume_id text collate "C" not null,
    user_key text,
    headline text,
    category text,
    resume_text text,
    skills text,
    years_experience numeric,
    education_level text,
    location text,
    region text,
    gender text,
    age_band text,
    submitted_at timestamptz,
    _file_id bigint, _line integer, _partition_date date, _loaded_at timestamptz default now(),
    _contract_version text, _extra jsonb
);
create unique index if not exists resumes_key on raw.resumes (resume_id);

create table if not exists raw.job_postings (
    job_id text collate "C" not null,
    title text,
    company text,
    category text,
    location text,
    region text,
    description text,
    responsibilities text,
    min_qualifications text,
    preferred_qualifications text,
    salary_text text,
    required_skills text,
    job_level integer,
    onet_soc_code text,
    posted_at timestamptz,
    _file_id bigint, _line integer, _partition_date date, _loaded_at timestamptz default now(),
    _contract_version text, _extra jsonb
);
create unique index if not exists job_postings_key on raw.job_postings (job_id);

create table if not exists raw.hris_employees (
    employee_key text collate "C" not null,
    tenant_id text collate "C",
    user_key text,
    manager_key text,
    department text,
    job_role text,
    job_level integer,
    onet_soc_code text,
    hire_date date,
    termination_date date,
    employment_status text,
    gender text,
    age_band text,
    region text,
    snapshot_date date not null,
    _file_id bigint, _line integer, _partition_date date, _loaded_at timestamptz default now(),
    _contract_version text, _extra jsonb
);
create unique index if not exists hris_employees_key on raw.hris_employees (tenant_id, employee_key, snapshot_date);

create table if not exists raw.interaction_events (
    event_id text collate "C" not null,
    user_key text,
    event_type text,
    item_type text,
    item_id text,
    occurred_at timestamptz,
    duration_s integer,
    progress_pct numeric,
    session_id text,
    _file_id bigint, _line integer, _partition_date date, _loaded_at timestamptz default now(),
    _contract_version text, _extra jsonb
);
-- Event ids are unique across every file ever loaded (exactly-once); also the dedup probe's index.
create unique index if not exists interaction_events_key on raw.interaction_events (event_id);

create table if not exists raw.learning_modules (
    module_id text collate "C" not null,
    title text,
    provider text,
    skills text,
    level text,
    duration_hours numeric,
    _file_id bigint, _line integer, _partition_date date, _loaded_at timestamptz default now(),
    _contract_version text, _extra jsonb
);
create unique index if not exists learning_modules_key on raw.learning_modules (module_id);

create table if not exists raw.onet_occupations (
    soc_code text collate "C" not null,
    title text,
    description text,
    job_zone integer,
    _file_id bigint, _line integer, _partition_date date, _loaded_at timestamptz default now(),
    _contract_version text, _extra jsonb
);
create unique index if not exists onet_occupations_key on raw.onet_occupations (soc_code);

create table if not exists raw.onet_skills (
    soc_code text collate "C" not null,
    skill_id text collate "C" not null,
    skill_name text,
    skill_kind text,
    importance numeric,
    level numeric,
    _file_id bigint, _line integer, _partition_date date, _loaded_at timestamptz default now(),
    _contract_version text, _extra jsonb
);
create unique index if not exists onet_skills_key on raw.onet_skills (soc_code, skill_id);

-- ---------------------------------------------------------------- pii_vault: originals, keyed by pseudonym
-- Pseudonym → original identifier (user ids, employee ids, manager ids).
create table if not exists pii_vault.identifiers (
    kind text collate "C" not null,
    pseudonym text collate "C" not null,
    original text not null,
    primary key (kind, pseudonym)
);

create table if not exists pii_vault.resumes (
    resume_id text collate "C" not null,
    user_key text,
    full_name text,
    email text,
    phone text,
    resume_text text,
    _file_id bigint, _line integer
);
create index if not exists vault_resumes_key on pii_vault.resumes (resume_id);

create table if not exists pii_vault.hris_employees (
    employee_key text collate "C" not null,
    tenant_id text,
    snapshot_date date,
    full_name text,
    date_of_birth date,
    age integer,
    zip text,
    state text,
    race text,
    monthly_income numeric,
    _file_id bigint, _line integer
);
create index if not exists vault_hris_key on pii_vault.hris_employees (employee_key);

-- Undeclared columns that look personal (by name or by their values) never reach raw._extra.
create table if not exists pii_vault.extras (
    source text not null,
    file_id bigint not null,
    line bigint not null,
    payload jsonb not null
);

-- Original text of quarantined rows (ops.quarantine keeps a masked copy).
create table if not exists pii_vault.quarantine_raw (
    quarantine_id bigint primary key,
    raw_text text
);

-- core/ddl.sql grants select on raw/ops through default privileges of the role running bootstrap; grant
-- again explicitly so tables created by another role (a migration user) are covered too.
grant select on all tables in schema raw, ops to kairoo_analyst;
