"""The night's unit of work: one UTC day, from KAIROO_PARTITION_START."""

from __future__ import annotations

from datetime import date, datetime

import dagster as dg

from core.settings import get_settings

daily = dg.DailyPartitionsDefinition(start_date=get_settings().partition_start, timezone="UTC")

# A range (backfill, the demo's history) runs as ONE run: each stage handles [start, end] at once,
# which keeps process start-up and dbt parsing to once per run instead of once per day.
single_run = dg.BackfillPolicy.single_run()


def window_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> tuple[date, date]:
    """The inclusive [first, last] days this run covers (one day for a nightly run)."""
    keys = context.partition_keys
    return _day(keys[0]), _day(keys[-1])


def _day(key: str) -> date:
    return datetime.strptime(key, "%Y-%m-%d").date()
