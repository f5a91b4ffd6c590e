"""Scale-out: training and scoring on a Dask cluster through lightgbm's Dask interface.

Used by `ml.ranker` when a scheduler address is configured (`RankerConfig.dask_address`); otherwise
everything runs in process. The model that comes back is a plain Booster, so MLflow logging,
evaluation and the gate are the same for both paths.

LightGBM's Dask estimators do not support early stopping, so the number of rounds is chosen on the
driver afterwards: the validation NDCG@k is computed every few iterations and the best iteration kept,
the same criterion the in-process path's early stopping uses.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from ml.config import RankerConfig
from ml.evaluation import ranking_metrics
from ml.features import ModelMatrix


def query_aligned_chunks(group: np.ndarray, parts: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Row chunks and matching group chunks such that no query straddles two partitions.

    LightGBM's Dask ranker needs every partition to hold whole queries.
    """
    parts = max(1, min(parts, len(group)))
    bounds = np.linspace(0, len(group), parts + 1).round().astype(int)
    group_chunks = tuple(int(b - a) for a, b in itertools.pairwise(bounds) if b > a)
    ends = np.cumsum(group)
    row_chunks, start = [], 0
    for size in group_chunks:
        stop = start + size
        rows = int(ends[stop - 1] - (ends[start - 1] if start else 0))
        row_chunks.append(rows)
        start = stop
    return tuple(row_chunks), group_chunks


def fit_ranker_dask(
    train: ModelMatrix, valid: ModelMatrix, config: RankerConfig, address: str, parts: int | None = None
) -> tuple[Any, int]:
    """LambdaRank via `lightgbm.DaskLGBMRanker` on the cluster at `address`; returns (booster, best)."""
    # dask, distributed and lightgbm cost seconds to import: only the scale-out path pays for them.
    import dask.array as da
    import lightgbm as lgb
    from distributed import Client

    params = config.lgb_params()
    for key in ("objective", "metric", "eval_at", "num_threads", "verbose"):
        params.pop(key)
    # lightgbm's Dask code waits on the default client: make this one the default for the block only.
    with Client(address) as client:
        workers = len(client.scheduler_info()["workers"])
        row_chunks, group_chunks = query_aligned_chunks(train.group, parts or max(workers, 1))
        x = da.from_array(train.x, chunks=(row_chunks, train.x.shape[1]))
        y = da.from_array(train.label, chunks=(row_chunks,))
        g = da.from_array(train.group, chunks=(group_chunks,))
        model = lgb.DaskLGBMRanker(
            client=client, n_estimators=config.n_estimators, objective="lambdarank", verbose=-1, **params
        )
        model.fit(x, y, group=g)
        booster = model.booster_
    # Choose the number of rounds on validation NDCG@k, as early stopping would have.
    # `ranking_metrics` averages over the judged queries only (those with a relevant candidate), so
    # scoring the whole validation matrix gives the judged queries' NDCG.
    frame = valid.keys.assign(grade=valid.label)
    best_iteration, best_ndcg = booster.current_iteration(), -1.0
    step = 10
    for iteration in range(step, booster.current_iteration() + 1, step):
        scores = booster.predict(valid.x, num_iteration=iteration)
        ndcg = ranking_metrics(frame, scores)["ndcg10"]
        if ndcg > best_ndcg + 1e-9:
            best_iteration, best_ndcg = iteration, ndcg
    booster.best_iteration = best_iteration
    return booster, best_iteration


def predict_dask(booster: Any, x: np.ndarray, address: str, chunk_rows: int = 250_000) -> np.ndarray:
    """Scores computed on the cluster, one task per row chunk (the booster is shipped once per task)."""
    import dask.array as da  # heavy, see fit_ranker_dask
    from distributed import Client

    if len(x) == 0:
        return np.array([], dtype=np.float64)
    best = booster.best_iteration or None
    model_text = booster.model_to_string(num_iteration=best)

    def _predict(block: np.ndarray) -> np.ndarray:
        import lightgbm as lgb  # on the worker, which has no module state of ours

        return np.asarray(lgb.Booster(model_str=model_text).predict(block), dtype=np.float64)

    with Client(address, set_as_default=False) as client:
        arr = da.from_array(x, chunks=(chunk_rows, x.shape[1]))
        out = arr.map_blocks(_predict, drop_axis=1, dtype=np.float64)
        return client.compute(out).result()
