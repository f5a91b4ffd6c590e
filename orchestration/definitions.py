"""The code location: every asset, check, job, schedule and sensor of Kairoo Platform.

This module only lists what exists. Each stage's assets, checks and publishers live with the stage
in `assets/`; the pieces they share (partitions, resources, retries, the dbt handle) in `runtime/`.
Heavy libraries load only inside the steps that use them, so loading this module stays fast
(benchmarks/bench_load.py measures it).
"""

import dagster as dg

from assets import monitoring, plans, preflight, ranking, signals, warehouse
from core.settings import Settings
from orchestration.jobs import nightly
from orchestration.schedules import nightly_schedule
from orchestration.sensors import end_dead_runs, late_signal_files, record_run_failures
from runtime.resources import build_resources, executor_for

STAGES = (preflight, signals, warehouse, ranking, plans, monitoring)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The definitions bound to one environment: `settings` when given (they win over the process
    environment), else the environment's."""
    return dg.Definitions(
        assets=[a for stage in STAGES for a in stage.ASSETS],
        asset_checks=[c for stage in STAGES for c in stage.CHECKS],
        jobs=[nightly],
        schedules=[nightly_schedule],
        sensors=[record_run_failures, end_dead_runs, late_signal_files, *monitoring.SENSORS],
        resources=build_resources(settings),
        executor=executor_for(settings),
    )


defs = build_definitions()
