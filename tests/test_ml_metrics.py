"""Pure ranking math: metrics against hand-computed values, the split, the gate rule, the bias rule."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from ml.bias import bias_report
from ml.config import RankerConfig, candidate_horizon_days
from ml.evaluation import compare, per_query_metrics, ranking_metrics, utility_ndcg
from ml.features import MODEL_FEATURES, check_features, model_matrix
from ml.gate import decide
from ml.window import dates_to_draw, time_split

D = date(2026, 3, 1)


def _query(grades, user="u", item_type="job"):
    return pd.DataFrame(
        {
            "as_of_date": D,
            "user_key": user,
            "item_type": item_type,
            "item_id": [f"i{i}" for i in range(len(grades))],
            "grade": grades,
        }
    )


def test_metrics_match_hand_computation():
    frame = _query([0, 3, 0, 1])
    scores = np.array([4.0, 3.0, 2.0, 1.0])  # ranks: i0 (0), i1 (3), i2 (0), i3 (1)
    dcg = (2**3 - 1) / math.log2(3) + (2**1 - 1) / math.log2(5)
    idcg = (2**3 - 1) / math.log2(2) + (2**1 - 1) / math.log2(3)
    got = ranking_metrics(frame, scores)
    assert got["ndcg10"] == pytest.approx(dcg / idcg)
    assert got["map10"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert got["recall50"] == 1.0 and got["queries"] == 1
    # A perfect ranking scores 1; a query with no relevant item is not judged.
    both = pd.concat([frame, _query([0, 0], user="v")], ignore_index=True)
    perfect = ranking_metrics(both, np.r_[[0, 9, 0, 5], [1, 2]])
    assert perfect["ndcg10"] == pytest.approx(1.0) and perfect["queries"] == 1


def test_ties_are_broken_by_item_id_and_hit_counts_top_k():
    frame = _query([0, 0, 1])
    pq = per_query_metrics(frame, np.zeros(3), hit_k=2)
    assert pq.loc[0, "hit"] == 0.0  # i0, i1 shown first on a tie
    assert per_query_metrics(frame, np.zeros(3), hit_k=3).loc[0, "hit"] == 1.0


def test_exposure_is_the_relevant_items_attention_in_the_top_k_as_a_share_of_the_best():
    frame = _query([0, 1, 0, 2])  # relevant: i1 and i3
    # Scores put i3 first and i1 third: attention 1/log2(2) + 1/log2(4), best 1/log2(2) + 1/log2(3).
    pq = per_query_metrics(frame, np.array([3.0, 2.0, 1.0, 4.0]), hit_k=10)
    assert pq.loc[0, "exposure"] == pytest.approx((1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3)))
    # Only the top k counts: with k = 2, i1 (third) gets none; the best is still both on top.
    pq2 = per_query_metrics(frame, np.array([3.0, 2.0, 1.0, 4.0]), hit_k=2)
    assert pq2.loc[0, "exposure"] == pytest.approx(1 / (1 + 1 / np.log2(3)))
    assert np.isnan(per_query_metrics(_query([0, 0]), np.zeros(2)).loc[0, "exposure"])  # nothing to expose


def test_utility_ndcg_uses_the_shifted_latent_utility_as_gain():
    frame = _query([0, 0, 0, 0])  # no realized label: utility-NDCG still judges the query
    utility = np.array([-1.0, 2.0, 0.0, 1.0])  # gains after the shift: 0, 3, 1, 2
    scores = np.array([4.0, 3.0, 2.0, 1.0])  # order i0, i1, i2, i3
    dcg = 0 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4) + 2 / math.log2(5)
    idcg = 3 / math.log2(2) + 2 / math.log2(3) + 1 / math.log2(4)
    assert utility_ndcg(frame, scores, utility) == pytest.approx(dcg / idcg)
    assert utility_ndcg(frame, utility, utility) == pytest.approx(1.0)  # the oracle, by construction
    # Only the top k count; a query whose candidates are all equally useful is not judged.
    assert utility_ndcg(frame, scores, utility, k=1) == pytest.approx(0.0)
    both = pd.concat([frame, _query([0, 0], user="v")], ignore_index=True)
    assert utility_ndcg(both, np.r_[scores, [1, 2]], np.r_[utility, [5, 5]]) == pytest.approx(dcg / idcg)
    # The evaluation table carries it for every ranker when the oracle is known.
    table = compare(frame.assign(retrieval_score=[1, 2, 3, 4], item_popularity_7d=0), scores, utility)
    assert table.loc["oracle", "utility_ndcg10"] == pytest.approx(1.0)
    assert table.loc["model", "utility_ndcg10"] == pytest.approx(dcg / idcg)
    assert set(table.index) == {"model", "popularity", "skill_overlap", "oracle"}


def test_model_matrix_groups_queries_and_refuses_protected_features():
    frame = pd.concat([_query([1, 0], "b"), _query([0, 2, 0], "a", "module")], ignore_index=True)
    for f in MODEL_FEATURES:
        if f != "item_is_module":
            frame[f] = 1.0
    matrix = model_matrix(frame)
    assert matrix.group.tolist() == [3, 2]  # user a first: rows sorted by query
    assert matrix.x[:3, MODEL_FEATURES.index("item_is_module")].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="protected"):
        check_features([*MODEL_FEATURES, "region_match"])
    with pytest.raises(ValueError, match="lack feature columns"):
        model_matrix(frame.drop(columns=["gap_coverage"]))


def test_time_split_keeps_training_labels_out_of_validation():
    dates = [D + timedelta(days=7 * i) for i in range(5)]
    split = time_split(dates, as_of=D + timedelta(days=35), label_window_days=7, validation_dates=1)
    assert split.kind == "time" and split.valid_dates == [D + timedelta(days=28)]
    assert split.train_dates == dates[:4]
    # A training window keeps the latest usable dates only.
    split = time_split(dates, D + timedelta(days=35), 7, 1, train_window_dates=2)
    assert split.train_dates == dates[2:4] and split.valid_dates == [D + timedelta(days=28)]
    # A 10-day label window: the date 21 days in would leak labels into validation and is dropped.
    split = time_split(dates, as_of=D + timedelta(days=40), label_window_days=10, validation_dates=1)
    assert split.valid_dates == [D + timedelta(days=28)] and max(split.train_dates) == D + timedelta(days=14)
    assert time_split(dates[:1], D + timedelta(days=9), 7, 1).kind == "user_holdout"
    with pytest.raises(ValueError, match="no candidate as-of date has a closed 7-day label window"):
        time_split(dates, as_of=D + timedelta(days=3), label_window_days=7, validation_dates=1)


def test_backfills_draw_the_dates_coming_nights_train_on():
    config = RankerConfig()  # 7-day labels, 1 validation date, 7 training dates
    assert candidate_horizon_days(config) == 21
    end = D + timedelta(days=59)
    drawn = dates_to_draw(D, end, config)
    assert drawn[0] == end - timedelta(days=20) and drawn[-1] == end and len(drawn) == 21
    assert dates_to_draw(end, end, config) == [end]  # a nightly run draws its own date
    # Tonight's split reads only drawn dates: validation at end - 7, training from end - 20.
    split = time_split(drawn, end, 7, 1, config.train_window_dates)
    assert split.valid_dates == [end - timedelta(days=7)] and len(split.train_dates) == 7
    assert split.train_dates[0] == drawn[0]


def test_gate_rule():
    base = {"popularity": 0.40, "skill_overlap": 0.50}
    ok, reasons = decide({"ndcg10": 0.60}, None, base, True, [], 0.005, 0.0)
    assert ok and len(reasons) == 3
    ok, reasons = decide({"ndcg10": 0.45}, None, base, True, [], 0.005, 0.0)
    assert not ok and any("does not beat baseline skill_overlap" in r for r in reasons)
    ok, reasons = decide({"ndcg10": 0.603}, {"ndcg10": 0.60}, base, True, [], 0.005, 0.0)
    assert not ok and "does not beat champion" in reasons[0]
    ok, reasons = decide(
        {"ndcg10": 0.70}, {"ndcg10": 0.60}, base, False, ["gender: ratio 0.5 < 0.8"], 0.005, 0.0
    )
    assert not ok and reasons[-1] == "bias rule failed: gender: ratio 0.5 < 0.8"


def test_bias_rule_uses_selection_rate_ratio():
    rng = np.random.default_rng(0)
    users = [f"u{i}" for i in range(200)]
    groups = pd.DataFrame({"user_key": users, "gender": ["f"] * 100 + ["m"] * 100, "age_band": "30-44"})
    hit = np.r_[rng.random(100) < 0.5, rng.random(100) < 0.9].astype(float)
    pq = pd.DataFrame({"user_key": users, "n_rel": 1, "hit": hit, "ndcg10": hit})
    report = bias_report(pq, groups, k=10, attributes=("gender", "age_band", "region"))
    ratio = hit[:100].mean() / hit[100:].mean()
    assert report.ratios["gender"] == pytest.approx(ratio) and ratio < 0.8
    assert not report.passed and report.reasons[0].startswith("gender: selection rate@10 ratio")
    assert "age_band" not in report.ratios  # a single group: nothing to compare
    assert any(r.startswith("region: not available") for r in report.reasons)
    fair = bias_report(pq.assign(hit=1.0), groups, k=10, attributes=("gender",))
    assert fair.passed and fair.ratios == {"gender": 1.0}


def test_whole_users_never_splits_a_user_across_chunks():
    from ml.scoring import whole_users

    users = ["a", "a", "b", "b", "b", "c", "d", "d"]
    frames = [pd.DataFrame({"user_key": users[i : i + 3]}) for i in range(0, len(users), 3)]
    out = list(whole_users(frames))
    assert [f["user_key"].tolist() for f in out] == [["a", "a"], ["b", "b", "b"], ["c"], ["d", "d"]]
