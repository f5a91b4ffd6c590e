"""The nightly job at tier M, step by step: does the night fit its 10-minute window on this machine?

The generator's M world (100k users, 20k jobs, ~1M events a day) through the `nightly` job as production
runs it: a history backfill, then one night (benchmarks/night_world.py, the run bench_ranking and
bench_monitoring read too). Prints ONE JSON line:
{"bench": "night", "tier", "night_s", "overhead_share", "steps": {step: {wall_s, cpu_s, pg_cpu_s,
peak_rss_mb, written_mb, rows, status}}, "disk_gb", ...}. Goals: night_s <= 600, overhead_share < 0.15.
`disk_gb` is the state folder after the night (warehouse, landing, MLflow, Dagster). Per step, CPU is
split into this process's (with dbt, its child) and the PostgreSQL server's, because most of the night's
work is SQL.

    .venv/bin/python benchmarks/bench_night.py            # M, 22 days: ~1.5 h on 2 cores
    .venv/bin/python benchmarks/bench_night.py --tier S   # ~10 min
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    from benchmarks.night_world import ensure_world, tier_and_days

    tier, days = tier_and_days(__doc__)
    world, folder, owned = ensure_world(tier, days)
    try:
        print(json.dumps({
            "bench": "night", "tier": tier, "days": days, "events": world.get("events"),
            "night_s": world.get("night_s"), "goal_night_s": 600, "night_success": world.get("night_success"),
            "overhead_share": world.get("overhead_share"), "goal_overhead_share": 0.15,
            "night_cpu_s": world.get("night_cpu_s"), "night_pg_cpu_s": world.get("night_pg_cpu_s"),
            "night_written_gb": world.get("night_written_gb"), "disk_gb": world.get("disk_gb"),
            "history_s": world.get("history_s"),
            "history_overhead_share": world.get("history_overhead_share"),
            "failed_checks": world.get("failed_checks"), "steps": world.get("steps"),
            "load_average_1m": [world.get("load_average_1m_start"), world.get("load_average_1m_end")],
        }))  # fmt: skip
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
    return 0 if world.get("night_success") else 1


if __name__ == "__main__":
    sys.exit(main())
