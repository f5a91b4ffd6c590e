"""The Dask path (lightgbm's Dask interface on a two-worker local cluster) ranks as well as in process."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from ml.config import RankerConfig
from ml.distributed import predict_dask, query_aligned_chunks
from ml.features import model_matrix
from ml.ranker import predict
from ml.synthetic import make_ranking_data
from ml.train import fit_and_evaluate

# Not in `make test-fast`: a Dask cluster start-up.
pytestmark = pytest.mark.slow

DATES = [date(2026, 3, 1) + timedelta(days=7 * i) for i in range(3)]


def test_query_aligned_chunks_never_split_a_query():
    group = np.array([3, 1, 4, 1, 5, 9, 2])
    rows, groups = query_aligned_chunks(group, 3)
    assert sum(rows) == group.sum() and sum(groups) == len(group)
    ends = set(np.cumsum(group).tolist())
    assert set(np.cumsum(rows).tolist()) <= ends  # every partition ends on a query boundary


def test_dask_training_and_scoring_match_in_process():
    from distributed import LocalCluster

    data = make_ranking_data(n_users=200, dates=DATES, seed=21)
    frame = data.labelled(7)
    train = frame[frame["as_of_date"] < DATES[-1]]
    valid = frame[frame["as_of_date"] == DATES[-1]].reset_index(drop=True)
    config = RankerConfig(n_estimators=40, early_stopping_rounds=40, min_child_samples=20, num_threads=1)
    local = fit_and_evaluate(train, valid, config, data.groups)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, processes=True) as cluster:
        address = cluster.scheduler_address
        dask_config = RankerConfig(
            n_estimators=40,
            early_stopping_rounds=40,
            min_child_samples=20,
            num_threads=1,
            dask_address=address,
        )
        distributed = fit_and_evaluate(train, valid, dask_config, data.groups)
        matrix = model_matrix(valid, distributed.features)
        remote_scores = predict_dask(distributed.booster, matrix.x, address, chunk_rows=1000)
    ndcg_local = local.evaluation.loc["model", "ndcg10"]
    ndcg_dask = distributed.evaluation.loc["model", "ndcg10"]
    assert ndcg_dask == pytest.approx(ndcg_local, abs=0.03)
    assert ndcg_dask > 1.1 * distributed.metrics["best_baseline_ndcg10"]
    # Scoring on the cluster gives exactly the scores of the same booster in process.
    np.testing.assert_allclose(remote_scores, predict(distributed.booster, matrix.x), rtol=1e-12)
