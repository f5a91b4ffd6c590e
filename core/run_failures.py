"""ops.run_failures: every failed run, with its failing step(s) and error, where the data team looks.

Three writers, so that no failure goes unrecorded (issue #11): the nightly job's failure hook (every
failed step of every run, in-process ones included: the demo, tests, scripts), the night's day lock
(a run refused before any step ran) and the `record_run_failures` sensor (runs that died: run
monitoring marks them failed, no step lived to say so). Each upserts: steps accumulate, the first
message stays, so the row reads the same whichever writer came first.
"""

from __future__ import annotations

from core.database import PgParams, connect


def record_run_failure(
    params: PgParams,
    *,
    run_id: str,
    job_name: str,
    partition_key: str | None,
    failed_steps: list[str],
    message: str | None,
) -> None:
    with connect(params) as conn:
        conn.execute(
            """
            insert into ops.run_failures (run_id, job_name, partition_key, failed_steps, message)
            values (%s, %s, %s, %s, %s)
            on conflict (run_id) do update set
                failed_steps = (
                    select array_agg(distinct s order by s)
                    from unnest(coalesce(ops.run_failures.failed_steps, '{}') || excluded.failed_steps) as s
                ),
                partition_key = coalesce(ops.run_failures.partition_key, excluded.partition_key),
                message = coalesce(ops.run_failures.message, excluded.message)
            """,
            (run_id, job_name, partition_key, sorted(set(failed_steps)), message),
        )
