"""Sensors: record failed runs where the data team looks, and notice late-landing files."""

from datetime import UTC, datetime

import dagster as dg

from orchestration.jobs import nightly
from runtime.resources import SignalsResource, WarehouseResource


@dg.run_failure_sensor(
    name="record_run_failures",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Writes every failed run (job, partition, failed steps, message) to ops.run_failures.",
)
def record_run_failures(context: dg.RunFailureSensorContext, warehouse: WarehouseResource) -> None:
    from core.run_failures import record_run_failure
    from runtime.failures import partition_label

    run = context.dagster_run
    steps = sorted({e.step_key for e in context.get_step_failure_events() if e.step_key})
    record_run_failure(
        warehouse.params(),
        run_id=run.run_id,
        job_name=run.job_name,
        partition_key=partition_label(dict(run.tags)),
        failed_steps=steps or ["(run)"],
        message=context.failure_event.message,
    )


DEAD_AFTER_SECONDS = 90


@dg.sensor(
    name="end_dead_runs",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description=(
        "Marks failed a STARTED nightly run none of whose processes is alive (killed, OOM, lost host): "
        "every live process of a night holds its days in the warehouse (core/night_lock.py). The local "
        "run launcher cannot check a run's worker, so without this a killed run looks alive forever."
    ),
)
def end_dead_runs(context: dg.SensorEvaluationContext, warehouse: WarehouseResource) -> dg.SkipReason:
    import json
    import time

    from core.night_lock import live_runs

    started = context.instance.get_runs(
        filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED], job_name=nightly.name)
    )
    alive = live_runs(warehouse.params())
    now = time.time()
    # First time each run was seen without a live process: a multiprocess run has short gaps between
    # step processes, so a run is dead only when it stays without one for DEAD_AFTER_SECONDS.
    seen = json.loads(context.cursor) if context.cursor else {}
    seen = {r.run_id: seen.get(r.run_id, now) for r in started if r.run_id not in alive}
    ended = []
    for run in started:
        if run.run_id in seen and now - seen[run.run_id] >= DEAD_AFTER_SECONDS:
            context.instance.report_run_failed(
                run, f"run {run.run_id} has no live process (killed?): marked failed by end_dead_runs"
            )
            ended.append(run.run_id)
            seen.pop(run.run_id)
    context.update_cursor(json.dumps(seen))
    return dg.SkipReason(f"{len(started)} started run(s), {len(seen)} without a live process, ended {ended}")


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
