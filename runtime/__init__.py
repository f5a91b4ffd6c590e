"""The Dagster pieces every stage shares: partitions, resources, retries, the dbt project handle,
metadata helpers and the two asset factories (Great Expectations checks, write-audit-publish).

The layer between `assets/` (which uses it) and the domain packages (which it adapts); it never
imports `assets` or `orchestration` (import-linter holds this, `make lint`).
"""
