"""The write-audit-publish step as an asset factory: marts_build → marts after the night's suites passed.

Every stage that publishes (the warehouse's marts, ranking's recommendations, tonight's plans) gets
its publisher from `publish_asset`, so publication looks and behaves the same everywhere: one
transaction, only when every required suite of this run passed, a row in `ops.publish_log`.
"""

from collections.abc import Sequence
from datetime import timedelta

import dagster as dg

from core.publish import PublishSpec, publish
from runtime.partitions import daily, single_run, window_of
from runtime.resources import WarehouseResource
from runtime.retries import transient_db_retries


def publish_asset(
    name: str,
    specs: Sequence[PublishSpec],
    deps: Sequence[dg.AssetKey],
    required_suites: Sequence[str],
    description: str,
    lookback_days: int,
) -> dg.AssetsDefinition:
    """A publication step: `specs` from marts_build → marts, atomically, after every required suite passed.

    Windowed tables are published for the run's days plus `lookback_days` before them, the days the
    night may have rewritten (late events).
    """
    specs, required = list(specs), list(required_suites)

    @dg.asset(
        key=dg.AssetKey(["marts", name]),
        deps=list(deps),
        group_name="publish",
        partitions_def=daily,
        backfill_policy=single_run,
        kinds={"postgres"},
        description=description,
    )
    def _publish(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        start, end = window_of(context)
        with transient_db_retries(context):
            published = publish(
                warehouse.params(),
                specs,
                run_id=context.run.run_id,
                partition_key=f"{start}..{end}",
                window=(start - timedelta(days=lookback_days), end),
                required_suites=required,
            )
        return dg.MaterializeResult(
            metadata={
                "tables": dg.MetadataValue.md(
                    "| table | mode | window | rows |\n|---|---|---|---|\n"
                    + "\n".join(
                        f"| marts.{p.table} | {p.mode} "
                        f"| {p.window_start or ''}..{p.window_end or ''} | {p.rows} |"
                        for p in published
                    )
                ),
                "tables_published": len(published),
                "rows_published": sum(p.rows for p in published),
                "required_suites": dg.MetadataValue.json(required),
            }
        )

    return _publish
