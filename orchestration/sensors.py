"""Sensors: record failed runs where the data team looks, and notice late-landing files."""

from datetime import UTC, datetime

import dagster as dg

from core.database import connect
from orchestration.jobs import nightly
from runtime.resources import SignalsResource, WarehouseResource


@dg.run_failure_sensor(
    name="record_run_failures",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Writes every failed run (job, partition, failed steps, message) to ops.run_failures.",
)
def record_run_failures(context: dg.RunFailureSensorContext, warehouse: WarehouseResource) -> None:
    run = context.dagster_run
    steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    with connect(warehouse.params()) as conn:
        conn.execute(
            """
            insert into ops.run_failures (run_id, job_name, partition_key, failed_steps, message)
            values (%s, %s, %s, %s, %s) on conflict (run_id) do nothing
            """,
            (
                run.run_id,
                run.job_name,
                run.tags.get("dagster/partition"),
                steps,
                context.failure_event.message,
            ),
        )


@dg.sensor(
    name="late_signal_files",
    job=nightly,
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description=(
        "Notices files landing for a day that is already complete (late deliveries) and re-runs that "
        "day's night. Today's files wait for the 02:00 schedule."
    ),
)
def late_signal_files(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource, signals: SignalsResource
) -> dg.SensorResult | dg.SkipReason:
    from ingestion import pending_files

    today = datetime.now(UTC).date()
    pending = pending_files(warehouse.params(), signals.landing_url)
    days = sorted(
        {f.partition_date for f in pending if f.partition_date is not None and f.partition_date < today}
    )
    if not days:
        return dg.SkipReason(f"{len(pending)} pending file(s), none for a completed day")
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(partition_key=d.isoformat(), run_key=f"late-{d.isoformat()}-{len(pending)}")
            for d in days
        ]
    )
