{#- The partition window of the night: [min_date - lookback_days, max_date] (UTC days).
    Event models re-aggregate it whole, so a late event delivered today corrects the days it belongs to. -#}

{% macro window_start() -%}
    {%- set min_date = var('min_date', none) -%}
    {%- if min_date -%}
        ('{{ min_date }}'::date - {{ var('lookback_days') | int }})
    {%- else -%}
        null::date
    {%- endif -%}
{%- endmacro %}

{% macro window_end() -%}
    {%- set max_date = var('max_date', none) -%}
    {%- if max_date -%}('{{ max_date }}'::date){%- else -%}null::date{%- endif -%}
{%- endmacro %}

{#- True when this run should process only the window (incremental run with the window set). -#}
{% macro in_window_mode() -%}
    {{ return(is_incremental() and var('min_date', none) is not none) }}
{%- endmacro %}

{#- Predicate on a DATE column: the window, or `true` on full builds. -#}
{% macro date_in_window(date_column) -%}
    {%- if in_window_mode() -%}
        {{ date_column }} between {{ window_start() }} and coalesce({{ window_end() }}, 'infinity'::date)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- Predicate on a TIMESTAMPTZ column, written as a range on the bare column so that an index or a
    day-ordered heap on it is used (an expression such as occurred_at::date would defeat both). -#}
{% macro ts_in_window(ts_column, extra_days_before=0) -%}
    {%- if in_window_mode() -%}
        {{ ts_column }} >= (({{ window_start() }} - {{ extra_days_before }})::timestamp at time zone 'utc')
        and {{ ts_column }} < ((coalesce({{ window_end() }}, 'infinity'::date) + 1)::timestamp at time zone 'utc')
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- incremental_predicates for delete+insert: restricts the delete to the window so PostgreSQL
    uses the date index instead of scanning history. -#}
{% macro window_delete_predicate(date_column) -%}
    {%- if var('min_date', none) -%}
        {{ return(["DBT_INTERNAL_DEST." ~ date_column ~ " >= " ~ window_start()]) }}
    {%- else -%}
        {{ return([]) }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: an index on the table's day column (delete+insert and window reads use it). -#}
{% macro date_index(date_column) -%}
    create index if not exists {{ this.name }}__{{ date_column }} on {{ this }} ({{ date_column }})
{%- endmacro %}

{#- Candidate dates of the night: [min_date, max_date] without the lookback (past candidates never
    change, so their features are never recomputed). `true` on full builds. -#}
{% macro as_of_in_window() -%}
    {%- if in_window_mode() -%}
        as_of_date between '{{ var('min_date') }}'::date and coalesce({{ window_end() }}, 'infinity'::date)
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- incremental_predicates for the as_of_date-keyed delete+insert of candidate features. -#}
{% macro as_of_delete_predicate() -%}
    {%- if var('min_date', none) -%}
        {{ return(["DBT_INTERNAL_DEST.as_of_date >= '" ~ var('min_date') ~ "'::date"]) }}
    {%- else -%}
        {{ return([]) }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: drop as-of dates older than `candidate_retention_days` before the newest one (the same
    horizon ranking keeps in ml.candidates, ml.candidates.CandidateConfig.retention_days; a test holds
    the two equal). Relative to the table's newest date, so it needs no window and a rerun of an old
    date cannot erase recent ones. -#}
{% macro as_of_retention() -%}
    delete from {{ this }}
    where as_of_date < (select max(as_of_date) from {{ this }}) - {{ var('candidate_retention_days') | int }}
{%- endmacro %}

{#- The config of a table incremental by day: each night deletes and re-inserts its window's days
    (delete+insert keyed on the day, the delete restricted to the window so the day index serves it),
    with that index created after the first build. `extra_hooks`: more post-hooks (e.g. a lookup
    index). One definition for every day-partitioned model, so none of them drifts. -#}
{% macro day_window_incremental(date_column, extra_hooks=[]) -%}
    {{ config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=date_column,
        incremental_predicates=window_delete_predicate(date_column),
        post_hook=["{{ date_index('" ~ date_column ~ "') }}"] + extra_hooks,
    ) }}
{%- endmacro %}
