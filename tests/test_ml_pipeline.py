"""Train → gate → score through the warehouse and a real MLflow SQLite store, with real LightGBM.

The synthetic ranking data (ml.synthetic) is loaded into the tables the dbt features schema will own, so
the SQL I/O is exercised as in production.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from core.windows import RECOMMENDATION_RETENTION_DAYS
from ml.config import RankerConfig
from ml.gate import promote_if_better
from ml.registry import load_version
from ml.scoring import score
from ml.synthetic import make_ranking_data, write_oracle, write_to_warehouse
from ml.train import fit_and_evaluate, register_challenger, train_and_register
from ml.window import Split

# Not in `make test-fast`: LightGBM training and MLflow registration.
pytestmark = pytest.mark.slow

DATES = [date(2026, 3, 1) + timedelta(days=7 * i) for i in range(3)]
AS_OF = DATES[-1] + timedelta(days=7)
# One thread: under CPU contention from parallel test processes, two OpenMP threads ran up to 10x slower.
CONFIG = RankerConfig(
    n_estimators=50, early_stopping_rounds=10, min_child_samples=20, max_train_queries=5_000, num_threads=1
)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[str, str]:
    """One MLflow SQLite store for this module: creating one runs ~60 schema migrations (seconds each
    time); each test registers its own model name, so they stay independent."""
    folder = tmp_path_factory.mktemp("mlflow")
    return f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts")


def _recommendations(params, as_of):
    with psycopg.connect(params.conninfo()) as conn:
        return {
            t: conn.execute(
                f"select user_key, item_id, rank, score, model_version from marts_build.recommendations_{t}"
                " where as_of_date = %s order by user_key, rank",
                (as_of,),
            ).fetchall()
            for t in ("jobs", "modules")
        }


def _shuffle_training_labels(params, before: date, seed: int) -> None:
    """Degrade the feedback of the training window: labels land on random candidates."""
    with psycopg.connect(params.conninfo()) as conn:
        rows = conn.execute(
            "select user_key, item_type, item_id, event_date, grade from features.interaction_labels"
        ).fetchall()
        labels = pd.DataFrame(rows, columns=["user_key", "item_type", "item_id", "event_date", "grade"])
        early = labels["event_date"] < before
        rng = np.random.default_rng(seed)
        for item_type in ("job", "module"):
            idx = labels.index[early & (labels["item_type"] == item_type)]
            labels.loc[idx, "item_id"] = rng.permutation(labels.loc[idx, "item_id"].to_numpy())
            labels.loc[idx, "grade"] = rng.permutation(labels.loc[idx, "grade"].to_numpy())
        conn.execute("delete from features.interaction_labels")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into features.interaction_labels values (%s, %s, %s, %s, %s)", labels.values.tolist()
            )


def test_train_gate_score_and_refuse_a_degraded_challenger(fresh_db, tmp_path, store):
    tracking_uri, artifact_root = store
    data = make_ranking_data(n_users=300, dates=DATES, seed=11)
    write_to_warehouse(fresh_db, data)
    oracle_dir = write_oracle(data, tmp_path / "oracle")

    # Lists served long ago: one day beyond retention (dropped by tonight's scoring), one on its edge.
    with psycopg.connect(fresh_db.conninfo()) as conn:
        for days_ago in (RECOMMENDATION_RETENTION_DAYS + 1, RECOMMENDATION_RETENTION_DAYS):
            conn.execute(
                "insert into marts_build.recommendations_jobs"
                " values (%s, 'u-old', 'j-old', 1, 1.0, 'm', '0')",
                (DATES[-1] - timedelta(days=days_ago),),
            )

    # Cold start: before any model is champion the skill-overlap baseline serves, labelled as such,
    # in retrieval order.
    cold = score(fresh_db, DATES[-1], tracking_uri, top_k_jobs=5, top_k_modules=3)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        old = conn.execute(
            "select as_of_date from marts_build.recommendations_jobs where user_key = 'u-old'"
        ).fetchall()
    assert old == [(DATES[-1] - timedelta(days=RECOMMENDATION_RETENTION_DAYS),)]
    assert cold.serving == "baseline" and cold.job_rows == 300 * 5 and cold.module_rows == 300 * 3
    with psycopg.connect(fresh_db.conninfo()) as conn:
        served = conn.execute(
            "select distinct r.model_name, r.model_version, (r.rank = c.retrieval_rank) as same_order"
            " from marts_build.recommendations_jobs r join ml.candidates c"
            " on c.as_of_date = r.as_of_date and c.user_key = r.user_key and c.item_type = 'job'"
            " and c.item_id = r.item_id where r.as_of_date = %s",
            (DATES[-1],),
        ).fetchall()
    assert served == [("baseline-skill-overlap", "retrieval_score", True)]

    first = train_and_register(
        fresh_db, AS_OF, CONFIG, tracking_uri, artifact_root, oracle_dir=str(oracle_dir)
    )
    assert first.split == "time" and first.valid_dates == [DATES[-1]] and first.train_dates == DATES[:2]
    m = first.metrics
    assert m["ndcg10"] > 1.1 * m["best_baseline_ndcg10"], m
    assert m["oracle_ndcg10"] >= m["ndcg10"] * 0.95, m  # the oracle is an upper reference
    assert first.bias_passed is True
    meta = first.to_metadata()
    assert meta["model_version"] == "1" and meta["valid_dates"] == [DATES[-1].isoformat()]

    gate = promote_if_better(fresh_db, tracking_uri, CONFIG)
    assert gate.promoted and gate.champion_version == "1", gate.reasons
    assert any("beats baseline skill_overlap" in r for r in gate.reasons)

    # Scoring with the champion is reproducible and writes top-k per user and item type.
    report = score(fresh_db, DATES[-1], tracking_uri, top_k_jobs=5, top_k_modules=3)
    once = _recommendations(fresh_db, DATES[-1])
    again = score(fresh_db, DATES[-1], tracking_uri, top_k_jobs=5, top_k_modules=3)
    assert _recommendations(fresh_db, DATES[-1]) == once  # identical rows, not appended
    assert report.job_rows == again.job_rows == 300 * 5 and report.module_rows == 300 * 3
    assert {r[4] for r in once["jobs"]} == {"1"} and report.users == 300
    assert [r[2] for r in once["jobs"][:5]] == [1, 2, 3, 4, 5]

    # A challenger trained on shuffled feedback is refused; the champion keeps serving.
    _shuffle_training_labels(fresh_db, before=DATES[-1], seed=3)
    degraded = train_and_register(fresh_db, AS_OF, CONFIG, tracking_uri, artifact_root)
    assert degraded.model_version == "2" and degraded.metrics["ndcg10"] < m["ndcg10"] - 0.05
    gate = promote_if_better(fresh_db, tracking_uri, CONFIG)
    assert not gate.promoted and gate.champion_version == "1" and gate.challenger_version == "2"
    assert "does not beat champion" in gate.reasons[0]
    assert gate.metrics["challenger_ndcg10"] < gate.metrics["champion_ndcg10"]
    assert load_version(tracking_uri, CONFIG.model_name, "champion")[1] == "1"
    score(fresh_db, DATES[-1], tracking_uri, top_k_jobs=5, top_k_modules=3)
    assert _recommendations(fresh_db, DATES[-1]) == once

    # The runs carry the evaluation for the data team.
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    run = client.get_run(degraded.run_id)
    assert run.data.tags["gate_promoted"] == "false"
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "evaluation")}
    assert {"evaluation/rankers.csv", "evaluation/bias_groups.csv", "evaluation/ndcg10.png"} <= artifacts


def test_bias_rule_refuses_a_model_that_fails_one_group(store):
    """A model that ranks well for men and blindly for women: better than the baselines, refused on bias."""
    tracking_uri, artifact_root = store
    data = make_ranking_data(n_users=500, dates=DATES, jobs_per_user=40, unfair=("gender", "f"), seed=5)
    frame = data.labelled(7)
    train = frame[frame["as_of_date"] < DATES[-1]]
    valid = frame[frame["as_of_date"] == DATES[-1]].reset_index(drop=True)
    config = RankerConfig(
        model_name="kairoo-ranker-bias-test",
        n_estimators=50,
        early_stopping_rounds=10,
        min_child_samples=20,
        bias_k=3,
        num_threads=1,
    )
    trained = fit_and_evaluate(train, valid, config, data.groups)
    assert trained.bias.ratios["gender"] < 0.8, trained.bias.table
    _, version = register_challenger(
        trained, config, tracking_uri, artifact_root, as_of=AS_OF, split=Split(DATES[:2], DATES[-1:], "time")
    )
    gate = promote_if_better(None, tracking_uri, config, validation=valid, groups=data.groups)
    assert not gate.promoted and gate.champion_version is None and gate.challenger_version == version
    assert any(r.startswith("bias rule failed: gender: selection rate@3 ratio") for r in gate.reasons)
    assert gate.metrics["bias_ratio_gender"] < 0.8
    # Nothing was promoted: the cold-start baseline keeps serving (see the first test).
    assert load_version(tracking_uri, config.model_name, "champion") is None
