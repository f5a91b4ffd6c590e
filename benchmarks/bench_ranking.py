"""Ranking benchmark: candidate retrieval at M scale, and ranking quality through the production pipeline.

Prints ONE JSON line. Figures:
- candidates_s / candidates_cpu_s / candidates_peak_mb: job retrieval for 100k users × 20k jobs (sparse,
  chunked, top 100 per user, level filter on), wall and process CPU seconds (CPU is the stable figure on
  a shared machine), peak of Python-tracked allocations (numpy/scipy buffers) including the 10M-row
  result frame, which is most of it.
- candidates_dense_ratio: the same search done densely (BLAS product + argpartition) on a slice of users,
  extrapolated to all users, divided by the sparse time: the same-run reference. The slice's results are
  checked equal to the sparse ones.
- per generator tier (`tiers`; the top-level figures are the largest tier's): the nightly job runs on the
  generator's world (benchmarks/night_world.py, the run bench_night profiles) and the last night's
  model is evaluated on its time split: ndcg10 against oracle_ndcg10 (the candidates ranked by the
  latent utility the behaviour was drawn from; the same-run reference) and best_baseline_ndcg10
  (popularity or skill overlap); utility_ndcg10 (the same NDCG with the latent utility as gain, oracle =
  1.0; goal >= 0.9) and the best baseline's;
  train_rows_per_s (LightGBM fit) and score_rows_per_s (chunked batch scoring of every user's candidates).

    .venv/bin/python benchmarks/bench_ranking.py [--tiers S,M] [--users 100000] [--jobs 20000]

Tier M takes about 1.5 h on 2 cores (22 days of ~1.1M events a day through the whole night) and tens
of GB of disk for its state folder; inside `make bench` that world is built once, shared with bench_night
and bench_monitoring, and deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# Days of history per tier (benchmarks/night_world.py): S as `make demo`; M enough for a full 7-date
# training window. Twenty-two days let the last night validate on day 15 (labels of days 15-21) and train
# on the 7 dates whose labels closed before (days 2-8). Sixteen days is the shortest history with any
# time split, but it trains on days 1-2 only, which carry no history features: at M that model scored
# 0.59x the oracle against 0.98x with seven training dates.
from benchmarks.night_world import TIER_DAYS
from ml.config import CandidateConfig
from ml.sparse import job_candidates, to_sparse


def skills_world(n_users: int, n_jobs: int, seed: int = 0, n_skills: int = 1_200, n_occ: int = 900):
    """O*NET-like skill profiles: occupations with ~20 important skills; jobs and users draw from them."""
    rng = np.random.default_rng(seed)
    occ_skills = [rng.choice(n_skills, size=20, replace=False) for _ in range(n_occ)]
    job_occ = rng.integers(0, n_occ, n_jobs)
    job_rows = []
    for j, o in enumerate(job_occ):
        chosen = rng.choice(occ_skills[o], size=12, replace=False)
        job_rows += [(f"j{j:06d}", f"s{s:04d}", float(rng.uniform(0.3, 1.0))) for s in chosen]
    user_occ = rng.integers(0, n_occ, n_users)
    user_rows = []
    for u, o in enumerate(user_occ):
        own = rng.choice(occ_skills[o], size=6, replace=False)
        extra = rng.choice(n_skills, size=3, replace=False)
        user_rows += [(f"u{u:07d}", f"s{s:04d}", float(rng.uniform(0.2, 1.0))) for s in np.r_[own, extra]]
    users = pd.DataFrame(user_rows, columns=["user_key", "skill_id", "weight"])
    jobs = pd.DataFrame(job_rows, columns=["job_id", "skill_id", "importance"])
    user_attrs = pd.DataFrame(
        {"level": rng.integers(1, 6, n_users).astype(float)}, index=[f"u{u:07d}" for u in range(n_users)]
    )
    job_attrs = pd.DataFrame(
        {"level": rng.integers(1, 6, n_jobs).astype(float)}, index=[f"j{j:06d}" for j in range(n_jobs)]
    )
    return users, jobs, user_attrs, job_attrs


def bench_candidates(n_users: int, n_jobs: int, k: int = 100, slice_users: int = 2_000) -> dict:
    users, jobs, user_attrs, job_attrs = skills_world(n_users, n_jobs)
    config = CandidateConfig(jobs_per_user=k)
    tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    result = job_candidates(users, jobs, date(2026, 3, 1), config, user_attrs, job_attrs)
    sparse_s, sparse_cpu = time.perf_counter() - started, time.process_time() - cpu
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    # Same-run reference: dense product + argpartition on a slice of users, then extrapolated.
    skills = pd.Index(sorted(set(users["skill_id"]) | set(jobs["skill_id"])))
    um = to_sparse(users, "user_key", "skill_id", "weight", cols=skills)
    jm = to_sparse(jobs, "job_id", "skill_id", "importance", cols=skills)
    ulevel = user_attrs.reindex(um.rows)["level"].to_numpy()[:slice_users]
    jlevel = job_attrs.reindex(jm.rows)["level"].to_numpy()
    started, cpu = time.perf_counter(), time.process_time()
    dense_u = um.matrix[:slice_users].toarray()
    dense_j = jm.matrix.toarray()
    scores = dense_u @ dense_j.T
    diff = jlevel[None, :] - ulevel[:, None]
    scores[(diff > 1) | (diff < -2)] = 0.0
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    dense_s = (time.perf_counter() - started) * (n_users / slice_users)
    dense_cpu = (time.process_time() - cpu) * (n_users / slice_users)
    # Check: the slice's top-k score sets agree with the sparse search.
    sliced = result[result["user_key"].isin(um.rows[:slice_users])]
    dense_best = np.sort(np.take_along_axis(scores, top, axis=1), axis=1)[:, ::-1]
    sparse_best = sliced.groupby("user_key")["retrieval_score"].max().reindex(um.rows[:slice_users]).fillna(0)
    agree = bool(np.allclose(dense_best[:, 0], sparse_best.to_numpy()))
    return {
        "candidates_users": n_users,
        "candidates_jobs": n_jobs,
        "candidates_k": k,
        "candidates_rows": len(result),
        "candidates_s": round(sparse_s, 2),
        "candidates_cpu_s": round(sparse_cpu, 2),
        "candidates_peak_mb": round(peak / 2**20, 1),
        "candidates_dense_extrapolated_s": round(dense_s, 1),
        "candidates_dense_ratio": round(dense_s / sparse_s, 1),
        "candidates_dense_cpu_ratio": round(dense_cpu / sparse_cpu, 1),
        "candidates_dense_slice_users": slice_users,
        "candidates_slice_agrees": agree,
    }


def bench_tier(tier: str, days: int) -> dict:
    """One generator tier through the production pipeline (the world `bench_night` also reports on).

    The last night's challenger is evaluated on its time split against the oracle (the same candidates
    ranked by the generator's latent utility, evaluation only) and the best baseline (popularity or skill
    overlap, whichever ranks better). Goals: ndcg_vs_oracle >= 0.9, ndcg_vs_best_baseline >= 1.15,
    utility_ndcg10 >= 0.9, bias ratios >= 0.8.
    """
    from benchmarks.night_world import ensure_world
    from scripts.demo import ranker_metrics

    world, folder, owned = ensure_world(tier, days)
    try:
        meta = world.get("challenger") or {}
        metrics = ranker_metrics(meta)
        out: dict = {"tier": tier, "days": days, "events": world.get("events")}
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
        out["score_rows_per_s"] = (world.get("served") or {}).get("score_rows_per_s")
        for key in ("history_s", "night_s", "night_success", "failed_checks"):
            out[key] = world.get(key)
        return out
    finally:
        if owned:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tiers", default="S,M")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=20_000)
    args = parser.parse_args()
    out: dict = {"bench": "ranking", "data": "generator tiers through the nightly job"}
    tiers = [bench_tier(t, TIER_DAYS[t]) for t in args.tiers.split(",") if t in TIER_DAYS]
    top = tiers[-1] if tiers else {"tier": None}
    for key in (
        "tier",
        "ndcg10",
        "oracle_ndcg10",
        "best_baseline_ndcg10",
        "ndcg_vs_oracle",
        "ndcg_vs_best_baseline",
        "utility_ndcg10",
        "best_baseline_utility_ndcg10",
        "bias_ratios",
        "train_rows_per_s",
        "score_rows_per_s",
    ):
        out[key] = top.get(key)
    out.update(bench_candidates(args.users, args.jobs))
    out["tiers"] = {t["tier"]: t for t in tiers}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
