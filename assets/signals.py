"""Signals: the four partitioned sources and the reference data, loaded into `raw`.

One multi-asset (one step) loads every source: on 2 cores each extra step would cost seconds of
process start-up under the multiprocess executor. Each source is still its own asset, with its own
metadata (rows loaded and quarantined, schema version, PII columns, bytes, rows/s), freshness
policy and accounting check, and can be materialized alone.
"""

from datetime import timedelta

import dagster as dg

from core.database import analyze
from ingestion import PARTITIONED_SOURCES, REFERENCE_SOURCES, ingest_partition, ingest_reference
from runtime.partitions import daily, single_run, window_of
from runtime.resources import SignalsResource, WarehouseResource
from runtime.retries import transient_db_retries

DESCRIPTIONS = {
    "resumes": "Resumes users upload: the text (redacted) and skills behind every recommendation.",
    "job_postings": "Job postings from job boards: what the market asks for.",
    "hris_employees": "Enterprise tenants' HRIS records: roles, levels and moves inside a company.",
    "interaction_events": "What users do: job views, saves, applications, learning progress, tool use.",
    "learning_modules": "The learning catalogue that plans draw from (reference snapshot).",
    "onet_occupations": "O*NET 29.3 occupations and job zones (CC BY 4.0, USDOL/ETA).",
    "onet_skills": "O*NET 29.3 skill, knowledge and technology ratings by occupation (CC BY 4.0, USDOL/ETA).",
}

# A nightly source more than 26 h old is late; 30 h means the night missed it.
FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=30), warn_window=timedelta(hours=26))


def _key(source: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source])


def _check_specs(source: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            "ledger_balances",
            asset=_key(source),
            blocking=True,
            description="Every row read was loaded or quarantined: nothing lost.",
        ),
        dg.AssetCheckSpec(
            "quarantine_rate",
            asset=_key(source),
            description="Warn when more than 5% of the night's rows were quarantined.",
        ),
    ]


QUARANTINE_WARN_SHARE = 0.05


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            _key(s),
            description=DESCRIPTIONS[s],
            group_name="signals",
            kinds={"postgres"},
            freshness_policy=FRESHNESS if s in PARTITIONED_SOURCES else None,
        )
        for s in (*PARTITIONED_SOURCES, *REFERENCE_SOURCES)
    ],
    check_specs=[spec for s in (*PARTITIONED_SOURCES, *REFERENCE_SOURCES) for spec in _check_specs(s)],
    partitions_def=daily,
    backfill_policy=single_run,
    can_subset=True,
)
def signals(context: dg.AssetExecutionContext, warehouse: WarehouseResource, signals: SignalsResource):
    """Load the night's files for every selected source; rejected files and bad rows are quarantined."""
    params = warehouse.params()
    start, end = window_of(context)
    selected = {key.path[-1] for key in context.selected_asset_keys}
    reports = []
    with transient_db_retries(context):
        for source in PARTITIONED_SOURCES:
            if source in selected:
                reports.append(
                    ingest_partition(params, source, signals.landing_url, start, end, signals.pii_key)
                )
        if selected & set(REFERENCE_SOURCES):
            reports.extend(
                r
                for r in ingest_reference(params, signals.landing_url, signals.pii_key)
                if r.source in selected
            )
        analyze(params, [f"raw.{r.source}" for r in reports if r.rows_loaded])
    for report in reports:
        key = _key(report.source)
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                **report.to_metadata(),
                "dagster/row_count": report.rows_loaded,
                "files": dg.MetadataValue.md(_files_table(report)),
            },
        )
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="ledger_balances",
            passed=report.balanced,
            metadata={
                "rows_read": report.rows_read,
                "rows_loaded": report.rows_loaded,
                "rows_quarantined": report.rows_quarantined,
            },
        )
        share = report.rows_quarantined / report.rows_read if report.rows_read else 0.0
        yield dg.AssetCheckResult(
            asset_key=key,
            check_name="quarantine_rate",
            passed=share <= QUARANTINE_WARN_SHARE,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"quarantined_share": round(share, 4)},
        )


def _files_table(report) -> str:
    lines = ["| file | status | read | loaded | quarantined | error |", "|---|---|---|---|---|---|"]
    for f in report.files:
        lines.append(
            f"| {f.path} | {f.status} | {f.rows_read} | {f.rows_loaded} | {f.rows_quarantined} "
            f"| {f.error or ''} |"
        )
    return "\n".join(lines)


ASSETS = [signals]
CHECKS: list[dg.AssetChecksDefinition] = []  # the accounting checks are declared on the multi-asset
