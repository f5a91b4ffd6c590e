"""The ranker: a LightGBM LambdaRank booster fitted on judged queries, and its scores.

Fit and predict run in process, or on a Dask cluster when a scheduler address is configured
(`RankerConfig.dask_address`, see `ml.distributed`): either way the result is a plain Booster, so
evaluation, MLflow logging, the gate and scoring are the same for both paths. Labels are graded
(apply 3 > save 2 > view 1; complete > progress > start for modules); only judged queries (with at
least one relevant candidate) carry a ranking signal.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ml.config import RankerConfig
from ml.distributed import fit_ranker_dask, predict_dask
from ml.features import LABEL, QUERY_KEYS, ModelMatrix

# A fitted lightgbm.Booster: lightgbm is imported inside the functions that need it (~5 s without a
# bytecode cache, stack notes), so it stays out of the module load of every step that imports this.
Booster = Any


def judged_queries(frame: pd.DataFrame) -> pd.DataFrame:
    """Only queries with at least one relevant candidate: the others carry no ranking signal."""
    best = frame.groupby(QUERY_KEYS, sort=False)[LABEL].transform("max")
    return frame[best > 0]


def sample_queries(frame: pd.DataFrame, max_queries: int, seed: int) -> pd.DataFrame:
    """A reproducible random subset of whole queries (never a partial query)."""
    keys = frame[QUERY_KEYS].drop_duplicates()
    if len(keys) <= max_queries:
        return frame
    keep = keys.sample(n=max_queries, random_state=seed)
    return frame.merge(keep, on=QUERY_KEYS)


def fit(train: ModelMatrix, valid: ModelMatrix, config: RankerConfig) -> tuple[Booster, int]:
    """The booster and its best iteration: on the Dask cluster when `config.dask_address` is set."""
    if config.dask_address:
        return fit_ranker_dask(train, valid, config, config.dask_address)
    return fit_ranker(train, valid, config)


def fit_ranker(train: ModelMatrix, valid: ModelMatrix, config: RankerConfig) -> tuple[Booster, int]:
    """LambdaRank booster, early-stopped on validation NDCG@k; returns (booster, best_iteration)."""
    import lightgbm as lgb  # heavy: see `Booster`

    dtrain = lgb.Dataset(
        train.x, train.label, group=train.group, feature_name=train.features, free_raw_data=True
    )
    dvalid = lgb.Dataset(valid.x, valid.label, group=valid.group, reference=dtrain)
    booster = lgb.train(
        config.lgb_params(),
        dtrain,
        num_boost_round=config.n_estimators,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
    )
    return booster, int(booster.best_iteration or booster.current_iteration())


def predict(
    booster: Booster, x: np.ndarray, chunk_rows: int = 250_000, dask_address: str | None = None
) -> np.ndarray:
    """Scores in row chunks (bounded memory; ~120k rows/s on 2 threads per the stack notes).

    With `dask_address`, the chunks are scored on the cluster (the same scores, see ml.distributed).
    """
    if dask_address:
        return predict_dask(booster, x, dask_address, chunk_rows)
    best = booster.best_iteration or None
    if len(x) == 0:
        return np.array([], dtype=np.float64)
    return np.concatenate(
        [booster.predict(x[i : i + chunk_rows], num_iteration=best) for i in range(0, len(x), chunk_rows)]
    )
