"""The nightly schedule: 02:00 UTC, for yesterday's partition (the day is complete by then)."""

import dagster as dg

from orchestration.jobs import nightly

nightly_schedule = dg.build_schedule_from_partitioned_job(
    nightly,
    hour_of_day=2,
    minute_of_hour=0,
    name="nightly_at_0200_utc",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
