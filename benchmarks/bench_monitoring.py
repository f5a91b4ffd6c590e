"""What monitoring costs a night, against the night itself, on a generator world (tier S or M).

The generator's world of the tier (benchmarks/night_world.py: the history as one backfill, the last day
as the nightly job, monitoring inside it; inside `make bench` the same run bench_night and bench_ranking
read). Then, on that warehouse, each monitoring piece of the last night is timed on its own:

- drift_s: every drift dataset (pair features, signals, served scores, plans when present), samples
  drawn in PostgreSQL, Evidently reports, the one HTML file;
- bias_s: the challenger's judged validation queries (bias_source "training": the per-query outcomes
  training kept with the run; "rescored": its validation sample loaded and scored again), per-group
  selection rate (fairlearn), exposure and NDCG, for jobs and modules;
- served_bias_s: what was served, by group, in PostgreSQL (monitoring.served_bias, as
  monitoring.review runs it at night): tonight's lists, yesterday's judged by today's interactions, and
  tonight's published plans;
- anomaly_s: every daily series of the night against its history, in PostgreSQL.

total_s is their sum, night_s the nightly run's wall time (the reference, same machine, same run), and
share_of_night = total_s / night_s (goal at M: total_s <= 60 and share <= 0.10). Evidently's import is
timed apart (evidently_import_s: once per process). Prints ONE JSON line.

    .venv/bin/python benchmarks/bench_monitoring.py --tier S   # ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_monitoring.py --tier M   # ~1.5 h (22 days of 1M events), or the
                                                               # shared world's minutes in `make bench`
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def log(message: str) -> None:
    print(f"[bench_monitoring {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(fn):
    began = time.perf_counter()
    value = fn()
    return value, round(time.perf_counter() - began, 2)


def main() -> int:
    from benchmarks.isolation import isolate_state
    from benchmarks.night_world import START, ensure_world, tier_and_days

    tier, days = tier_and_days(__doc__)
    world, folder, owned = ensure_world(tier, days)
    state = Path(world["state"])
    isolate_state(state)

    from core.database import stop_embedded, warehouse_params
    from core.settings import get_settings

    settings = get_settings()
    end = START + timedelta(days=days - 1)
    night_s = float(world["night_s"])
    out: dict = {"bench": "monitoring", "tier": tier, "days": days, "events": world.get("events")}
    out["night_s"], out["night_success"] = night_s, world.get("night_success")
    try:
        from ml.train import RankerConfig
        from monitoring import anomalies, bias, drift

        params = warehouse_params(settings)
        _, out["evidently_import_s"] = timed(lambda: __import__("evidently.metrics"))
        result, out["drift_s"] = timed(lambda: drift.compute_drift(params, end, state / "bench-reports"))
        out["drift_tests"], out["drift_failed"] = len(result.rows), len(result.failed(False))

        def run_bias():  # as monitoring.review runs it at night
            queries, _, source = bias.challenger_queries(
                params, settings.mlflow_tracking_uri, RankerConfig().model_name, bias.BiasConfig().k
            )
            groups = bias.load_groups(params)
            for item_type, part in queries.groupby("item_type"):
                bias.bias_by_group(part, groups, item_type, end, bias.BiasConfig())
            return len(queries), source

        (out["bias_queries"], out["bias_source"]), out["bias_s"] = timed(run_bias)

        def run_served():
            from monitoring import served_bias

            yesterday = end - timedelta(days=1)
            results = served_bias.served_lists(params, end)
            results += served_bias.judged_lists(params, yesterday, end, end, end)
            return len([*results, served_bias.published_plans(params, end)])

        out["served_bias_results"], out["served_bias_s"] = timed(run_served)
        scored, out["anomaly_s"] = timed(lambda: anomalies.score_days(params, end, end))
        out["anomaly_series"] = len(scored)
        parts = ("drift_s", "bias_s", "served_bias_s", "anomaly_s")
        out["total_s"] = round(sum(out[k] for k in parts), 2)
        out["goal_total_s"], out["goal_share"] = 60, 0.10
        out["share_of_night"] = round(out["total_s"] / night_s, 3)
        out["history_errors"] = sum(
            1 for a in anomalies.score_days(params, START, end) if a.level == "error"
        )  # false alarms over the whole generated history
        out["load_average_1m"] = round(os.getloadavg()[0], 2)
    finally:
        stop_embedded(settings.pg_dir)
        if owned:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(out, default=str), flush=True)
    return 0 if out.get("night_success") else 1


if __name__ == "__main__":
    sys.exit(main())
