"""One ranking config: a knob set on the `ranking` resource reaches every step that uses it.

Before, candidates drew with `RankerConfig()` defaults and the promotion gate had an op config of its
own, so a changed training window never moved the dates drawn and the margins set for training never
reached the gate. Here two nights run the real ranking steps (candidates → challenger → promotion gate
→ recommendations) on the synthetic ranking data in a real warehouse and MLflow store, the second with
every knob changed through run config, as an operator would in the launchpad.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import dagster as dg
import numpy as np
import psycopg
import pytest

from core.settings import get_settings
from ml.config import CandidateConfig, RankerConfig, RankingConfig, candidate_horizon_days
from ml.synthetic import make_ranking_data, write_to_warehouse
from runtime.resources import RankingResource, build_resources

# Not in `make test-fast`: two nights of ranking with training and MLflow.
pytestmark = pytest.mark.slow

DATES = [date(2026, 3, 1) + timedelta(days=7 * i) for i in range(5)]
AS_OF = DATES[-1] + timedelta(days=7)  # every date's 7-day label window has closed
FIRST = AS_OF - timedelta(days=29)  # the range both nights run over (30 days)
MODEL = "kairoo-ranker-config-test"
# Small and single-threaded for the test (training 300 users on 2 threads under load ran up to 10x slower).
BASE = {
    "model_name": MODEL,
    "n_estimators": 40,
    "early_stopping_rounds": 10,
    "min_child_samples": 20,
    "num_threads": 1,
}
# Night 2: every knob away from its default and from night 1 (dask_address needs a cluster:
# tests/test_ml_dask.py covers that path).
CHANGED = {
    **BASE,
    "num_leaves": 15,
    "learning_rate": 0.1,
    "n_estimators": 30,
    "min_child_samples": 25,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.7,
    "lambdarank_truncation_level": 15,
    "early_stopping_rounds": 8,
    "seed": 11,
    "label_window_days": 3,
    "validation_dates": 2,
    "train_window_dates": 2,
    "max_train_queries": 150,
    "max_valid_queries": 80,
    "predict_chunk_rows": 5_000,
    "eval_k": 5,
    "bias_k": 3,
    "promotion_margin": 0.5,
    "baseline_margin": 0.01,
    "bias_threshold": 0.99,
    "min_group_queries": 5,
    "jobs_per_user": 4,
    "modules_per_user": 2,
    "max_level_above": 0,
    "max_level_below": 1,
    "location_filter": False,
    "backfill_users": 7,
    "candidate_chunk_rows": 16,
}


def test_the_resource_is_the_domain_config():
    """Every knob of ml.config is on the resource with the same default (retention: see below)."""
    resource = RankingResource()
    assert resource.config() == RankingConfig()
    ranker_fields = {f.name for f in dataclasses.fields(RankerConfig)}
    candidate_fields = {f.name for f in dataclasses.fields(CandidateConfig)}
    candidate_fields -= {"chunk_rows", "retention_days"}
    assert set(RankingResource.model_fields) == ranker_fields | candidate_fields | {"candidate_chunk_rows"}
    assert RankingResource(candidate_chunk_rows=16).config().candidates.chunk_rows == 16
    # Retention is one number with dbt's candidate_retention_days: a window that outgrows it is refused.
    with pytest.raises(ValueError, match=r"train_window_dates=30 read 44 days of candidates.*keeps 35"):
        RankingResource(train_window_dates=30).config()
    assert candidate_horizon_days(RankerConfig()) <= CandidateConfig().retention_days


def _write_retrieval_inputs(params) -> None:
    """Skill profiles and levels/regions for 40 users and 30 jobs (what dbt's features schema holds)."""
    rng = np.random.default_rng(4)
    users, jobs = [f"u{u:03d}" for u in range(40)], [f"j{j:03d}" for j in range(30)]
    with psycopg.connect(params.conninfo()) as conn:
        conn.execute("create table features.user_skills (user_key text, skill_id text, weight float8)")
        conn.execute("create table features.job_skills (job_id text, skill_id text, importance float8)")
        conn.execute("create table features.module_skills (module_id text, skill_id text)")
        conn.execute(
            "create table features.user_skill_gaps"
            " (user_key text, target_soc_code text, skill_id text, gap_weight float8)"
        )
        conn.execute(
            "create table features.user_features"
            " (user_key text, current_job_level int, region text, signup_date date)"
        )
        conn.execute("create table features.job_features (job_id text, job_level int, region text)")
        with conn.cursor() as cur:
            for u in users:
                skills = rng.choice(12, size=5, replace=False)
                cur.executemany(
                    "insert into features.user_skills values (%s, %s, %s)",
                    [(u, f"s{s}", float(rng.uniform(0.2, 1))) for s in skills],
                )
                cur.executemany(
                    "insert into features.user_skill_gaps values (%s, 'soc', %s, %s)",
                    [(u, f"s{s}", float(rng.uniform(0.2, 1))) for s in rng.choice(12, 3, replace=False)],
                )
                cur.execute(
                    "insert into features.user_features values (%s, %s, %s, %s)",
                    (u, int(rng.integers(1, 4)), str(rng.choice(["n", "s"])), FIRST - timedelta(days=1)),
                )
            for j in jobs:
                cur.executemany(
                    "insert into features.job_skills values (%s, %s, %s)",
                    [(j, f"s{s}", float(rng.uniform(0.2, 1))) for s in rng.choice(12, 4, replace=False)],
                )
                cur.execute(
                    "insert into features.job_features values (%s, %s, %s)",
                    (j, int(rng.integers(1, 4)), str(rng.choice(["n", "s"]))),
                )
            cur.executemany(
                "insert into features.module_skills values (%s, %s)",
                [(f"m{m}", f"s{s}") for m in range(6) for s in (m, m + 6)],
            )


def _night(settings, ranking: dict) -> dg.ExecuteInProcessResult:
    from assets.ranking import candidates, promotion_gate, ranker_challenger, recommendations

    return dg.materialize(
        [candidates, ranker_challenger, promotion_gate, recommendations],
        resources=build_resources(settings),
        run_config={"resources": {"ranking": {"config": ranking}}},
        tags={
            "dagster/asset_partition_range_start": FIRST.isoformat(),
            "dagster/asset_partition_range_end": AS_OF.isoformat(),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )


def _metadata(result: dg.ExecuteInProcessResult, key: str) -> dict:
    # A range run records one materialization per day of the range, all with the run's metadata.
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in events[-1].materialization.metadata.items()}


def _gate(result: dg.ExecuteInProcessResult) -> dict:
    [check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "promotion_gate"]
    return {"passed": check.passed, **{k: v.value for k, v in check.metadata.items()}}


def _candidates(params) -> dict:
    with psycopg.connect(params.conninfo()) as conn:
        per_user = conn.execute(
            "select item_type, max(n) from (select item_type, user_key, count(*) as n from ml.candidates"
            " where as_of_date = %s group by 1, 2) q group by 1 order by 1",
            (AS_OF,),
        ).fetchall()
        dates = conn.execute(
            "select as_of_date, count(distinct user_key) from ml.candidates"
            " where as_of_date >= %s group by 1 order by 1",
            (FIRST,),
        ).fetchall()
    return {"max_per_user": dict(per_user), "users_by_date": dict(dates)}


def test_every_ranking_knob_reaches_every_step_that_uses_it(fresh_db, tmp_path):
    import mlflow

    write_to_warehouse(fresh_db, make_ranking_data(n_users=300, dates=DATES, seed=11))
    _write_retrieval_inputs(fresh_db)
    settings = get_settings(
        {
            "KAIROO_STATE_DIR": str(tmp_path),
            "KAIROO_DATABASE_URL": fresh_db.conninfo(),
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        }
    )

    # Night 1: the defaults (made small), which earn a first champion.
    first = _night(settings, BASE)
    assert first.success
    assert _gate(first)["passed"] is True
    assert _metadata(first, "ml/candidates")["as_of_dates"] == candidate_horizon_days(RankerConfig()) == 21

    # Night 2: every knob changed.
    second = _night(settings, CHANGED)
    assert second.success

    # Candidates: the ranker's windows decide the dates drawn (2*3 + 2 - 1 + 2 = 9 days), the candidate
    # knobs how many items, which pairs and how many users on past dates.
    drawn = _metadata(second, "ml/candidates")
    assert drawn["as_of_dates"] == 9
    assert drawn["filters"] == ["level within -1..+0"]  # location_filter off, levels -1..+0
    got = _candidates(fresh_db)
    assert got["max_per_user"] == {"job": 4, "module": 2}
    nine_days = [AS_OF - timedelta(days=i) for i in range(8, -1, -1)]
    assert [d for d in got["users_by_date"] if d >= nine_days[0]] == nine_days
    assert all(got["users_by_date"][d] == 7 for d in nine_days[:-1])  # backfill_users on past dates
    assert got["users_by_date"][AS_OF] > 7  # tonight's date is served: everyone

    # Training: the run logs the config it trained with, and the windows and samples show in its result.
    trained = _metadata(second, "ml/ranker_challenger")
    assert trained["model_name"] == MODEL and trained["model_version"] == "2"
    assert trained["valid_dates"] == [DATES[3].isoformat(), DATES[4].isoformat()]
    assert trained["train_dates"] == [DATES[1].isoformat(), DATES[2].isoformat()]
    assert trained["train_queries"] == 150
    assert trained["metric/valid_queries"] == 80
    assert trained["bias_passed"] is False  # 0.99 is a threshold the synthetic ratios miss
    run = mlflow.MlflowClient(settings.mlflow_tracking_uri).get_run(trained["run_id"])
    ranker_knobs = {k: v for k, v in CHANGED.items() if k in RankerConfig.__dataclass_fields__}
    assert {k: run.data.params[k] for k in ranker_knobs} == {k: str(v) for k, v in ranker_knobs.items()}

    # The gate: the champion of night 1 is re-scored on the challenger's sample, with tonight's rules.
    gate = _gate(second)
    assert gate["passed"] is False and gate["challenger_version"] == "2" and gate["champion_version"] == "1"
    assert gate["metrics"]["challenger_queries"] == gate["metrics"]["champion_queries"] == 80
    assert any("+ margin 0.5" in r for r in gate["reasons"]), gate["reasons"]
    assert any("selection rate@3 ratio" in r and "< 0.99" in r for r in gate["reasons"]), gate["reasons"]
    rules = gate["rules"]
    assert {k: rules[k] for k in ("promotion_margin", "baseline_margin", "bias_threshold", "bias_k")} == {
        "promotion_margin": 0.5,
        "baseline_margin": 0.01,
        "bias_threshold": 0.99,
        "bias_k": 3,
    }
    assert rules["min_group_queries"] == 5
    assert rules["validation_sample"] == {
        "dates": [DATES[3].isoformat(), DATES[4].isoformat()],
        "label_window_days": 3,
        "max_queries": 80,
        "seed": 11,
    }

    # Scoring serves the champion of the configured model name (the default name has none: baseline).
    served = _metadata(second, "marts_build/recommendations")
    assert (served["serving"], served["model_name"], served["model_version"]) == ("champion", MODEL, "1")
