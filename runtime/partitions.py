"""The night's unit of work: one UTC day, from KAIROO_PARTITION_START."""

from __future__ import annotations

import warnings
from datetime import date, datetime

import dagster as dg

from core.settings import get_settings

# Single-run backfills are the documented way to run a range as one run (beta in 1.13); the notice,
# repeated for every asset at every import, adds nothing for the data team reading the logs.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

daily = dg.DailyPartitionsDefinition(start_date=get_settings().partition_start, timezone="UTC")

# A range (backfill, the demo's history) runs as ONE run: each stage handles [start, end] at once,
# which keeps process start-up and dbt parsing to once per run instead of once per day.
single_run = dg.BackfillPolicy.single_run()


RANGE_START, RANGE_END, PARTITION = (
    "dagster/asset_partition_range_start",
    "dagster/asset_partition_range_end",
    "dagster/partition",
)


def window_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[date, date]:
    """The inclusive [first, last] days this run covers (one day for a nightly run).

    Checks are not partitioned themselves (partitioned checks are a preview feature in Dagster
    1.13), so they read the window from the run's tags, which every partitioned run carries.
    """
    if isinstance(context, dg.AssetExecutionContext) and context.has_partition_key_range:
        keys = context.partition_keys
        return _day(keys[0]), _day(keys[-1])
    return window_from_tags(context.run.tags)


def window_from_tags(tags: dict[str, str]) -> tuple[date, date]:
    if RANGE_START in tags:
        return _day(tags[RANGE_START]), _day(tags[RANGE_END])
    if PARTITION in tags:
        return _day(tags[PARTITION]), _day(tags[PARTITION])
    raise ValueError(
        "this run targets no day: launch it for a partition (or a range) of the daily partitions"
    )


def _day(key: str) -> date:
    return datetime.strptime(key, "%Y-%m-%d").date()
