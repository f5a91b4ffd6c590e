"""Drift and bias gates on the ranker's inputs and on a real challenger (real PostgreSQL, Evidently,
fairlearn, LightGBM and an MLflow SQLite store).

The ranking tables come from ml.synthetic (ml's stand-in for the dbt features schema, shaped exactly like
`features.candidate_pair_features`, `features.interaction_labels` and `marts_build.dim_users`), so the
gates read the same relations as in a night. Its `unfair` switch makes one group's engagement ignore
every observable feature: any model then ranks that group nearly at random.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from core.database import PgParams, connect
from ml.synthetic import make_ranking_data, write_to_warehouse
from ml.train import RankerConfig, train_and_register
from monitoring import bias, drift, gates
from tests.conftest import make_database

# Not in `make test-fast`: LightGBM trainings, MLflow and Evidently.
pytestmark = pytest.mark.slow

DATES = [date(2026, 3, 1) + timedelta(days=7 * i) for i in range(3)]
TONIGHT = DATES[-1]
AS_OF = DATES[-1] + timedelta(days=7)
DRIFT = drift.DriftConfig(reference_days=14, sample_rows=5_000)
CONFIG = RankerConfig(n_estimators=40, early_stopping_rounds=10, min_child_samples=20, num_threads=1)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("mlflow")
    return f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts")


@pytest.fixture(scope="module")
def fair_db(pg_server: PgParams) -> PgParams:
    params = make_database(pg_server, "monitoring_fair")
    write_to_warehouse(params, make_ranking_data(n_users=400, dates=DATES, seed=11))
    return params


def test_unchanged_features_pass_and_a_shifted_feature_refuses_the_challenger(fair_db, tmp_path: Path):
    calm = drift.compute_drift(fair_db, TONIGHT, tmp_path / "calm", DRIFT)
    assert {(r.dataset, r.segment) for r in calm.rows} == {
        ("pair_features", "job"),
        ("pair_features", "module"),
    }
    assert all(r.method == "wasserstein" for r in calm.rows)
    assert calm.failed() == [], [(r.column_name, r.statistic) for r in calm.failed()]
    assert calm.report_path is not None and calm.report_path.stat().st_size > 100_000
    assert list((tmp_path / "calm").iterdir()) == [calm.report_path]  # ONE report for the night
    drift.record(fair_db, "calm-run", calm)
    assert gates.night_verdict(fair_db, "calm-run", TONIGHT, "challenger_gate").status == "pass"

    # Tonight's skill match is inflated (e.g. a taxonomy change doubled every overlap weight).
    with connect(fair_db) as conn:
        conn.execute(
            "update features.candidate_pair_features"
            " set skill_overlap_weighted = 2 * skill_overlap_weighted + 1 where as_of_date = %s",
            (TONIGHT,),
        )
    try:
        shifted = drift.compute_drift(fair_db, TONIGHT, tmp_path / "shifted", DRIFT)
        # A platform younger than its warm-up records the same drift, and it only warns.
        young = drift.compute_drift(fair_db, TONIGHT, None, replace(DRIFT, warmup_days=30))
    finally:
        with connect(fair_db) as conn:
            conn.execute(
                "update features.candidate_pair_features"
                " set skill_overlap_weighted = (skill_overlap_weighted - 1) / 2 where as_of_date = %s",
                (TONIGHT,),
            )
    assert young.failed() == [] and {r.column_name for r in young.failed(critical_only=False)} == {
        "skill_overlap_weighted"
    }
    assert any("warm-up" in reason for reason in young.skipped) and young.report_path is None
    failed = {(r.segment, r.column_name) for r in shifted.failed()}
    assert ("job", "skill_overlap_weighted") in failed and ("module", "skill_overlap_weighted") in failed
    assert all(c == "skill_overlap_weighted" for _, c in failed), failed
    drift.record(fair_db, "shifted-run", shifted)
    with connect(fair_db) as conn:
        rows = conn.execute(
            "select segment, statistic, threshold, drifted, critical, report_path"
            " from monitoring.drift_results where run_id = 'shifted-run'"
            " and column_name = 'skill_overlap_weighted' order by segment"
        ).fetchall()
    assert [r[0] for r in rows] == ["job", "module"]
    assert all(r[3] and r[4] and r[1] >= r[2] and r[5] == str(shifted.report_path) for r in rows)
    verdict = gates.night_verdict(fair_db, "shifted-run", TONIGHT, "challenger_gate")
    assert verdict.status == "block"
    assert any("pair_features/job/skill_overlap_weighted wasserstein" in b for b in verdict.blocked)
    # A drifted model input does not hold the marts.
    assert gates.night_verdict(fair_db, "shifted-run", TONIGHT, "marts_gate").status == "pass"


def _challenger_bias(params: PgParams, store, model_name: str):
    tracking_uri, artifact_root = store
    config = RankerConfig(**{**CONFIG.__dict__, "model_name": model_name})
    train_and_register(params, AS_OF, config, tracking_uri, artifact_root)
    config = bias.BiasConfig()  # top 10, four-fifths rule
    queries, version, source = bias.challenger_queries(params, tracking_uri, model_name, config.k)
    # Training's per-query outcomes are the challenger's validation sample scored again, query by query.
    frame, rescored_version = bias.challenger_rankings(params, tracking_uri, model_name)
    rescored = bias.per_query(frame, k=config.k)
    assert source == "training" and rescored_version == version
    keys = ["as_of_date", "user_key", "item_type"]
    pd.testing.assert_frame_equal(
        queries.sort_values(keys).reset_index(drop=True),
        rescored.sort_values(keys).reset_index(drop=True)[bias.QUERY_COLUMNS],
        check_dtype=False,
    )
    # Another top k than training kept: scored again.
    assert bias.challenger_queries(params, tracking_uri, model_name, 5)[2] == "rescored"
    result = bias.bias_by_group(queries, bias.load_groups(params), "challenger", AS_OF, config)
    return result, version


def test_bias_gate_passes_a_fair_challenger_and_refuses_an_unfair_one(fair_db, pg_server, store):
    fair, _ = _challenger_bias(fair_db, store, "monitoring-fair")
    assert fair.passed, fair.reasons
    metrics = {(r.attribute, r.metric) for r in fair.rows}
    assert {("gender", "selection_rate"), ("gender", "exposure"), ("gender", "ndcg10"),
            ("age_band", "exposure"), ("region", "selection_rate")} <= metrics  # fmt: skip
    ruled = [r for r in fair.rows if r.passed is not None]
    assert ruled and all(r.metric in ("selection_rate", "exposure") for r in ruled)

    unfair_db = make_database(pg_server, "monitoring_unfair")
    data = make_ranking_data(n_users=500, dates=DATES, jobs_per_user=40, unfair=("gender", "f"), seed=5)
    write_to_warehouse(unfair_db, data)
    unfair, version = _challenger_bias(unfair_db, store, "monitoring-unfair")
    assert not unfair.passed
    failing = {(r.attribute, r.group_value, r.metric) for r in unfair.rows if r.passed is False}
    # The blind group gets half the attention its relevant items deserve; nobody else is below the rule.
    assert ("gender", "f", "exposure") in failing, failing
    assert {(a, g) for a, g, _ in failing} == {("gender", "f")}, failing
    bias.record(unfair_db, "unfair-run", unfair)
    verdict = gates.night_verdict(unfair_db, "unfair-run", AS_OF, "challenger_gate")
    assert verdict.status == "block" and any("challenger/gender/" in b for b in verdict.blocked)
    with connect(unfair_db) as conn:
        stored = conn.execute(
            "select count(*) filter (where passed = false), count(*) from monitoring.bias_results"
            " where run_id = 'unfair-run'"
        ).fetchone()
    assert stored[0] == len([r for r in unfair.rows if r.passed is False]) and stored[1] == len(unfair.rows)
    assert version


def test_ranking_quality_of_served_recommendations_as_labels_arrive(fair_db, store):
    """What was served for TONIGHT, judged by the interactions of the following week, in SQL; checked
    against the same figures computed here in Python from the same rows."""
    import math

    from ml.scoring import score
    from monitoring import quality

    tracking_uri, _ = store
    score(fair_db, TONIGHT, tracking_uri, model_name="monitoring-none", top_k_jobs=10, top_k_modules=5)
    label_end = TONIGHT + timedelta(days=6)
    rows = quality.served_quality(fair_db, TONIGHT, TONIGHT, label_end)
    assert {r.item_type for r in rows} == {"job", "module"}
    quality.record(fair_db, "quality-run", rows)
    quality.record(fair_db, "quality-run-2", rows)  # a re-run replaces, never duplicates
    with connect(fair_db) as conn:
        stored = conn.execute("select count(*), min(run_id) from monitoring.ranking_quality").fetchone()
        served = conn.execute(
            "select user_key, item_id, rank from marts_build.recommendations_jobs where as_of_date = %s",
            (TONIGHT,),
        ).fetchall()
        labels = conn.execute(
            "select user_key, item_id, max(grade) from features.interaction_labels where item_type = 'job'"
            " and event_date between %s and %s group by 1, 2",
            (TONIGHT, label_end),
        ).fetchall()
    assert stored == (2, "quality-run-2")
    served_users = {u for u, _, _ in served}
    grades: dict[str, dict[str, int]] = {}
    for user, item, grade in labels:
        if user in served_users:
            grades.setdefault(user, {})[item] = grade
    ndcgs, recalls = [], []
    for user, items in grades.items():
        ranks = {i: r for u, i, r in served if u == user}
        dcg = sum((2 ** items[i] - 1) / math.log2(r + 1) for i, r in ranks.items() if i in items and r <= 10)
        ideal = sorted(items.values(), reverse=True)[:10]
        idcg = sum((2**g - 1) / math.log2(p + 2) for p, g in enumerate(ideal))
        ndcgs.append(dcg / idcg if idcg else float("nan"))
        recalls.append(sum(i in ranks for i in items) / len(items))
    job = next(r for r in rows if r.item_type == "job")
    assert job.users == len(grades) > 50
    valid = [n for n in ndcgs if not math.isnan(n)]
    assert job.ndcg10 == pytest.approx(sum(valid) / len(valid), rel=1e-9)
    assert job.recall == pytest.approx(sum(recalls) / len(recalls), rel=1e-9)
    assert 0 < job.ndcg10 < 1 and job.model_version == "retrieval_score"


def test_bias_rule_needs_a_shortfall_beyond_sampling_noise():
    """The same observed ratio (0.75 of the best group) fails on 2,000 queries per group, and passes on
    30, where two equally served groups differ that much by chance."""

    def queries(n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
        users = [f"u{i}" for i in range(2 * n)]
        hit = [1.0] * n + [1.0] * int(0.75 * n) + [0.0] * (n - int(0.75 * n))
        frame = pd.DataFrame(
            {"as_of_date": TONIGHT, "user_key": users, "item_type": "job", "n_rel": 1, "hit": hit,
             "exposure": hit, "ndcg10": hit}
        )  # fmt: skip
        groups = pd.DataFrame({"user_key": users, "gender": ["m"] * n + ["f"] * n})
        return frame, groups

    config = bias.BiasConfig(attributes=("gender",))
    small = bias.bias_by_group(*queries(30), "challenger_jobs", TONIGHT, config)
    large = bias.bias_by_group(*queries(2_000), "challenger_jobs", TONIGHT, config)
    ratio = next(r.ratio for r in small.rows if (r.group_value, r.metric) == ("f", "selection_rate"))
    assert ratio == pytest.approx(22 / 30)
    assert small.passed, small.reasons
    assert not large.passed
    assert {(r.group_value, r.metric) for r in large.rows if r.passed is False} == {
        ("f", "selection_rate"),
        ("f", "exposure"),
    }
    assert "beyond 1.96 standard errors" in large.reasons[0]


def test_a_large_side_is_block_sampled_reproducibly_and_a_small_one_exactly(fair_db):
    """Drift's samples cost O(sample), not O(day): past 2 x sample_rows rows, a side is a repeatable
    block sample of about twice the rows, cut in user-hash order; a small side keeps the exact sample."""
    config = replace(DRIFT, sample_rows=500, reference_days=14)
    relation, where = "features.candidate_pair_features", "t.as_of_date = %s and t.item_type = 'job'"
    with connect(fair_db) as conn:
        day_rows = conn.execute(f"select count(*) from {relation} as t where {where}", (TONIGHT,)).fetchone()[
            0
        ]
        assert day_rows > 4 * config.sample_rows
        conn.execute(f"analyze {relation}")  # as dbt's post-hook does after every build (planner statistics)
        share = drift._block_sample(conn, relation, where, (TONIGHT,), config, scans=2)
        assert share is not None and 0 < share < 100 * 2 * config.sample_rows / day_rows * 1.5
        small = drift._block_sample(
            conn, relation, where, (TONIGHT,), replace(config, sample_rows=day_rows), 2
        )
        assert small is None
        sides = [
            drift._two_sides(
                conn,
                relation,
                "t.user_key, t.retrieval_score::float8",
                "t.as_of_date",
                TONIGHT,
                config,
                segment_where="t.item_type = 'job'",
                key="t.user_key",
                columns=["user_key", "retrieval_score"],
            )
            for _ in range(2)
        ]
        full = conn.execute(
            f"select avg(retrieval_score), stddev(retrieval_score) from {relation} as t where {where}",
            (TONIGHT,),
        ).fetchone()
    (ref, cur), (ref2, cur2) = sides
    assert len(ref) == len(cur) == config.sample_rows
    pd.testing.assert_frame_equal(cur, cur2)  # the same blocks, the same users, night after night
    pd.testing.assert_frame_equal(ref, ref2)
    # Blocks hold several users: the sample spreads over many, and its mean is the day's within noise.
    assert cur["user_key"].nunique() >= 10
    assert abs(cur["retrieval_score"].mean() - float(full[0])) < 0.25 * float(full[1])
