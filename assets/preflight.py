"""Preflight: the first step of every night; nothing else of the night runs unless it passes.

Thin: the checks are core/preflight.py. Every source of the night depends on this asset, so a
failure here skips the whole run in seconds, with one message listing each setting to fix.
"""

import dagster as dg

from runtime.dbt_project import kairoo_dbt
from runtime.partitions import daily, single_run, window_of
from runtime.resources import MlflowResource, SignalsResource, WarehouseResource

PREFLIGHT_KEY = dg.AssetKey(["ops", "preflight"])


class PreflightConfig(dg.Config):
    """Free disk the night must find beyond what its landed files need (MB)."""

    min_free_mb: int = 1024


@dg.asset(
    key=PREFLIGHT_KEY,
    group_name="ops",
    partitions_def=daily,
    backfill_policy=single_run,
    kinds={"python"},
    description=(
        "Before the night moves a row: the warehouse answers on PostgreSQL 15+, the landing location "
        "exists (an empty day warns), the MLflow store is writable, the dbt manifest matches the code, "
        "and the disk has room. A failure names the setting to fix."
    ),
)
def preflight(
    context: dg.AssetExecutionContext,
    config: PreflightConfig,
    warehouse: WarehouseResource,
    signals: SignalsResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    from datetime import timedelta
    from pathlib import Path

    from core.preflight import run_preflight

    start, end = window_of(context)
    report = run_preflight(
        warehouse.params(),
        landing_url=signals.landing_url,
        days=[start + timedelta(days=i) for i in range((end - start).days + 1)],
        mlflow_tracking_uri=mlflow.tracking_uri,
        mlflow_artifact_root=mlflow.artifact_root,
        dbt_project_dir=Path(kairoo_dbt.project_dir),
        dbt_manifest_path=Path(kairoo_dbt.manifest_path),
        state_dir=Path(warehouse.state_dir),
        min_free_mb=config.min_free_mb,
    )
    table = "| check | level | setting | finding |\n|---|---|---|---|\n" + "\n".join(
        f"| {f.check} | {f.level} | `{f.setting}` | {f.message} |" for f in report.findings
    )
    metadata = {"findings": dg.MetadataValue.md(table), "seconds": round(report.seconds, 2)}
    for warning in report.warnings:
        context.log.warning(f"preflight {warning.check}: {warning.message} (setting: {warning.setting})")
    if report.errors:
        raise dg.Failure(description="preflight failed: " + report.summary(), metadata=metadata)
    return dg.MaterializeResult(metadata={**metadata, "warnings": len(report.warnings)})


ASSETS = [preflight]
CHECKS: list[dg.AssetChecksDefinition] = []
