"""The nightly job's failure hook: every failed step of every run lands in ops.run_failures.

Run-failure sensors only see runs launched through a code location with a daemon ticking; the
demo's, the tests' and any script's in-process runs, and failures before the daemon's first tick,
were never recorded (issue #11). A hook runs inside the run itself, whoever launched it.
"""

from __future__ import annotations

import dagster as dg

from runtime.partitions import PARTITION, RANGE_END, RANGE_START


def partition_label(tags: dict[str, str]) -> str | None:
    """The run's day, or its range as `start..end`."""
    if PARTITION in tags:
        return tags[PARTITION]
    if RANGE_START in tags:
        return f"{tags[RANGE_START]}..{tags[RANGE_END]}"
    return None


@dg.failure_hook(name="record_step_failure", required_resource_keys={"warehouse"})
def record_step_failure(context: dg.HookContext) -> None:
    """Upsert the run's row in ops.run_failures with this step and its error."""
    from core.run_failures import record_run_failure

    run = context.instance.get_run_by_id(context.run_id)
    tags = dict(run.tags) if run else {}
    error = context.op_exception
    message = f"{context.step_key}: " + (f"{type(error).__name__}: {error}" if error else "failed")
    record_run_failure(
        context.resources.warehouse.params(),
        run_id=context.run_id,
        job_name=context.job_name,
        partition_key=partition_label(tags),
        failed_steps=[context.step_key],
        message=message[:4000],
    )
