"""Ranking quality of the production pipeline on one of the generator's worlds (tier S or M).

Run by `bench_ranking.py` once per tier (a process each: the state folder is set through the
environment before anything is imported). It measures what users get: the generator's signals for
`days` days land, the nightly job runs as `make demo` runs it (one backfill run for the history, then
the nightly run for the last day, through ingestion, dbt, the quality gates, candidates, training and
the promotion gate) in a throw-away state folder, and the last night's challenger is evaluated on its
time split against:

- the oracle: the same candidates ranked by the generator's latent utility (evaluation only);
- the best baseline: popularity or skill overlap (retrieval score), whichever ranks better.

Figures: ndcg10, oracle_ndcg10, best_baseline_ndcg10, their ratios (goal >= 0.9 and >= 1.15),
utility_ndcg10 (NDCG with the latent utility as gain: the oracle scores 1.0 by construction; goal >= 0.9)
and the best baseline's, the split and its dates, bias ratios, events, and the wall time of each run.
Prints ONE JSON line.

    .venv/bin/python benchmarks/ranking_pipeline.py --tier S            # ~8 min on 2 cores
    .venv/bin/python benchmarks/ranking_pipeline.py --tier M --days 22  # ~1.5 h

Twenty-two days give the last night a full training window: it validates on day 15 (labels of days
15-21) and trains on the 7 dates whose labels closed before (days 2-8). Sixteen days is the shortest
history with any time split, but it trains on days 1-2 only, which carry no history features: at M
that model scored 0.59x the oracle against 0.98x with seven training dates.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

START = date(2026, 1, 1)


def log(message: str) -> None:
    print(f"[ranking_pipeline {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tier", default="S", choices=["S", "M"])
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--state", type=Path, default=None, help="state folder (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the state folder (to inspect it)")
    args = parser.parse_args()
    state = args.state or Path(tempfile.mkdtemp(prefix=f"kairoo-bench-{args.tier}-"))
    # The run must not touch the project's own state (or a production database): everything local.
    from benchmarks.isolation import isolate_state

    isolate_state(state)

    from core.database import stop_embedded
    from core.settings import get_settings
    from scripts.demo import (
        asset_metadata,
        land_demo_signals,
        prepare_instance,
        ranker_metrics,
        run_nightly,
    )

    settings = get_settings()
    prepare_instance(settings)
    # dbt and the runs print to stdout; this benchmark's stdout is its one JSON line.
    stdout = os.dup(1)
    os.dup2(2, 1)
    end = START + timedelta(days=args.days - 1)
    out: dict = {"bench": "ranking_pipeline", "tier": args.tier, "days": args.days}
    try:
        began = time.perf_counter()
        out["events"] = land_demo_signals(settings, START, end, tier=args.tier)
        out["generate_s"] = round(time.perf_counter() - began, 1)
        log(f"generated {out['events']:,} events in {out['generate_s']} s; history run starts")
        history, history_s, _ = run_nightly(START, end - timedelta(days=1))
        out["history_s"], out["history_success"] = round(history_s, 1), history.success
        log(f"history run: success={history.success} in {history_s:.0f} s; nightly run starts")
        oracle = {"ops": {"ml__ranker_challenger": {"config": {"oracle_dir": str(state / "oracle")}}}}
        night, night_s, _ = run_nightly(end, end, oracle)
        out["nightly_s"], out["nightly_success"] = round(night_s, 1), night.success
        failed = [
            f"{e.asset_key.to_user_string()}:{e.check_name}"
            for r in (history, night)
            for e in r.get_asset_check_evaluations()
            if not e.passed
        ]
        out["failed_checks"] = failed
        meta = asset_metadata(night, "ml/ranker_challenger")
        served = asset_metadata(night, "marts_build/recommendations")
        out["score_rows_per_s"] = served.get("score_rows_per_s")
        out["serving"] = served.get("serving")
        metrics = ranker_metrics(meta)
        for key in ("ndcg10", "map10", "recall50", "oracle_ndcg10", "best_baseline_ndcg10", "utility_ndcg10",
                    "best_baseline_utility_ndcg10"):  # fmt: skip
            out[key] = round(float(metrics[key]), 4) if key in metrics else None
        if out["ndcg10"] is not None and out["oracle_ndcg10"]:
            out["ndcg_vs_oracle"] = round(out["ndcg10"] / out["oracle_ndcg10"], 3)
            out["ndcg_vs_best_baseline"] = round(out["ndcg10"] / out["best_baseline_ndcg10"], 3)
        out["bias_ratios"] = {
            k.removeprefix("bias_ratio_"): round(float(v), 3)
            for k, v in metrics.items()
            if k.startswith("bias_ratio_")
        }
        for key in ("split", "train_dates", "valid_dates", "train_rows", "train_queries", "valid_rows",
                    "best_iteration", "train_rows_per_s"):  # fmt: skip
            out[key] = meta.get(key)
    finally:
        stop_embedded(settings.pg_dir)
        if not args.keep and args.state is None:
            shutil.rmtree(state, ignore_errors=True)
    sys.stdout.flush()
    os.dup2(stdout, 1)
    print(json.dumps(out, default=str), flush=True)
    return 0 if out.get("nightly_success") else 1


if __name__ == "__main__":
    sys.exit(main())
