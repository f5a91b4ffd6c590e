{#- The nightly window reads raw.interaction_events by occurred_at. Without an index on it every
    night scans all of history (cost grows with history, not with the day). Ingestion owns the table;
    until its DDL carries this index, dbt adds it once (idempotent) and carries on without it when its
    role may not create indexes there. A BRIN index suits a table appended in time order: tiny and
    cheap to maintain. -#}
{% macro ensure_raw_event_index() -%}
do $$
begin
    if to_regclass('raw.interaction_events') is not null then
        create index if not exists interaction_events_occurred_at_brin
            on raw.interaction_events using brin (occurred_at);
    end if;
exception when insufficient_privilege then
    raise notice 'kairoo: no privilege to index raw.interaction_events (occurred_at); nightly reads will scan it';
end
$$
{%- endmacro %}
