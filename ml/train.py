"""Training: LightGBM LambdaRank on graded feedback with a time-based split, registered in MLflow.

Labels: what the user did with a candidate in the `label_window_days` after its as-of date (apply 3 >
save 2 > view 1; complete > progress > start for modules). Split in time, never at random
(`ml.window.time_split`): the model is validated on the latest as-of dates whose label window has
closed, and trained only on earlier dates whose label window closed before validation starts, so no
training label comes from the validation period. The new version becomes `challenger`; only the gate
(`ml.gate.promote_if_better`) moves `champion`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.database import PgParams, connect
from ml.bias import BiasReport, bias_report, load_groups
from ml.config import RankerConfig
from ml.evaluation import compare, oracle_utility, per_query_metrics
from ml.features import MODEL_FEATURES, candidate_dates, load_pairs, model_matrix
from ml.ranker import Booster, fit, judged_queries, predict, sample_queries
from ml.registry import RunRecord, log_and_register
from ml.window import Split, ValidationSample, time_split


def user_holdout(frame: pd.DataFrame, share: float = 0.3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split by a stable hash of the user key (fallback when only one as-of date is usable)."""
    h = pd.util.hash_pandas_object(frame["user_key"], index=False, hash_key=f"{seed:016d}").to_numpy()
    valid = (h % 1000) < share * 1000
    return frame[~valid], frame[valid]


@dataclass
class Trained:
    """A fitted booster and its evaluation on the validation window (pure result, before MLflow)."""

    booster: Booster
    features: list[str]
    best_iteration: int
    train_rows: int
    train_queries: int
    valid_rows: int
    fit_seconds: float
    evaluation: pd.DataFrame  # one row per ranker: model, baselines, oracle
    per_query: pd.DataFrame
    bias: BiasReport | None

    @property
    def metrics(self) -> dict[str, float]:
        out = {}
        for ranker, row in self.evaluation.iterrows():
            prefix = "" if ranker == "model" else f"{ranker}_"
            for metric in ("ndcg10", "map10", "recall50", "utility_ndcg10"):
                if metric in row:  # utility_ndcg10 only with the generator's oracle
                    out[f"{prefix}{metric}"] = float(row[metric])
        out["valid_queries"] = float(self.evaluation.loc["model", "queries"])
        baselines = [r for r in self.evaluation.index if r not in ("model", "oracle")]
        out["best_baseline_ndcg10"] = float(self.evaluation.loc[baselines, "ndcg10"].max())
        if "utility_ndcg10" in self.evaluation:
            out["best_baseline_utility_ndcg10"] = float(
                self.evaluation.loc[baselines, "utility_ndcg10"].max()
            )
        if self.bias is not None:
            for attribute, ratio in self.bias.ratios.items():
                out[f"bias_ratio_{attribute}"] = float(ratio)
        return out


def fit_and_evaluate(
    train_frame: pd.DataFrame,
    valid_frame: pd.DataFrame,
    config: RankerConfig,
    groups: pd.DataFrame | None = None,
    oracle: np.ndarray | None = None,
    features: list[str] | None = None,
) -> Trained:
    """Fit on `train_frame`, evaluate on `valid_frame` (both with a `grade` column). Pure: no I/O.

    `oracle`: latent utility aligned with `valid_frame` rows (evaluation only).
    """
    features = list(features or MODEL_FEATURES)
    train_frame = sample_queries(judged_queries(train_frame), config.max_train_queries, config.seed)
    if train_frame.empty:
        raise ValueError("no training query has a relevant candidate: no feedback in the training window")
    valid_frame = valid_frame.reset_index(drop=True)
    if oracle is not None:
        valid_frame = valid_frame.assign(_oracle=oracle)
    train = model_matrix(train_frame, features)
    valid_all = model_matrix(valid_frame, features)
    valid_judged = model_matrix(judged_queries(valid_frame), features)
    started = time.perf_counter()
    booster, best = fit(train, valid_judged, config)
    fit_seconds = time.perf_counter() - started
    # Evaluate in matrix row order (sorted pairs), the order every metric below sees.
    ordered = valid_frame.sort_values(["as_of_date", "user_key", "item_type", "item_id"], kind="stable")
    ordered = ordered.reset_index(drop=True)
    scores = predict(booster, valid_all.x, config.predict_chunk_rows)
    table = compare(ordered, scores, ordered["_oracle"].to_numpy() if oracle is not None else None)
    per_query = per_query_metrics(ordered, scores, hit_k=config.bias_k)
    bias = (
        bias_report(per_query, groups, config.bias_k, config.bias_threshold, config.min_group_queries)
        if groups is not None
        else None
    )
    return Trained(
        booster=booster,
        features=features,
        best_iteration=best,
        train_rows=train.rows,
        train_queries=len(train.group),
        valid_rows=valid_all.rows,
        fit_seconds=fit_seconds,
        evaluation=table,
        per_query=per_query,
        bias=bias,
    )


@dataclass
class TrainResult:
    """One nightly training: what was learned from which window, how good it is, where it is registered."""

    model_name: str
    model_version: str
    run_id: str
    as_of_date: date
    split: str
    train_dates: list[date]
    valid_dates: list[date]
    train_rows: int
    train_queries: int
    valid_rows: int
    best_iteration: int
    train_rows_per_s: float
    metrics: dict[str, float]
    bias_passed: bool | None
    bias_reasons: list[str] = field(default_factory=list)

    def to_metadata(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of_date"] = self.as_of_date.isoformat()
        out["train_dates"] = [d.isoformat() for d in self.train_dates]
        out["valid_dates"] = [d.isoformat() for d in self.valid_dates]
        out["metrics"] = {k: round(v, 5) for k, v in self.metrics.items()}
        return out


def load_training_data(
    params: PgParams, as_of: date, config: RankerConfig
) -> tuple[Split, pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Read the split's labelled pairs and the protected groups from the warehouse."""
    with connect(params) as conn:
        split = time_split(
            candidate_dates(conn, as_of),
            as_of,
            config.label_window_days,
            config.validation_dates,
            config.train_window_dates,
        )

        # Only judged queries, sampled inside PostgreSQL: the rest carry no ranking signal, and at M a
        # single as-of date is ~12M candidate pairs.
        def pairs(dates: list[date], max_queries: int) -> pd.DataFrame:
            return load_pairs(
                conn,
                dates,
                config.label_window_days,
                judged_only=True,
                max_queries=max_queries,
                seed=config.seed,
            )

        if split.kind == "user_holdout":
            frame = pairs(split.valid_dates, config.max_train_queries + config.max_valid_queries)
        else:
            train_frame = pairs(split.train_dates, config.max_train_queries)
            valid_frame = pairs(split.valid_dates, config.max_valid_queries)
        groups = load_groups(conn)
    if split.kind == "user_holdout":
        train_frame, valid_frame = user_holdout(frame, seed=config.seed)
    return split, train_frame, valid_frame, groups


def register_challenger(
    trained: Trained, config: RankerConfig, tracking_uri: str, artifact_root: str, as_of: date, split: Split
) -> tuple[str, str]:
    """Log the training run (config, window, metrics, evaluation artifacts), register it as `challenger`.

    The run's tags carry the validation sample (dates, label window, size, seed) the gate re-scores.
    Returns (run_id, model version).
    """
    sample = ValidationSample(
        split.valid_dates, config.label_window_days, config.max_valid_queries, config.seed
    )
    record = RunRecord(
        run_name=f"ranker-{as_of.isoformat()}",
        params={
            **{k: v for k, v in asdict(config).items() if v is not None},
            "as_of_date": as_of.isoformat(),
            "split": split.kind,
            "train_dates": ",".join(d.isoformat() for d in split.train_dates),
            "valid_dates": ",".join(d.isoformat() for d in split.valid_dates),
            "train_rows": trained.train_rows,
            "train_queries": trained.train_queries,
            "valid_rows": trained.valid_rows,
            "best_iteration": trained.best_iteration,
            "n_features": len(trained.features),
        },
        tags={**sample.to_tags(), "split": split.kind},
        metrics=trained.metrics,
        features=trained.features,
        write_artifacts=lambda folder: _write_evaluation_artifacts(folder, trained),
    )
    return log_and_register(tracking_uri, artifact_root, config.model_name, trained.booster, record)


def _write_evaluation_artifacts(folder: Path, trained: Trained) -> None:
    """Evaluation table, bias table, per-query metrics and a comparison plot."""
    trained.evaluation.to_csv(folder / "rankers.csv", index_label="ranker")
    trained.per_query.to_csv(folder / "per_query.csv.gz", index=False)
    if trained.bias is not None:
        trained.bias.table.to_csv(folder / "bias_groups.csv", index=False)
        (folder / "bias.json").write_text(json.dumps(trained.bias.to_metadata(), indent=2))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are a convenience; the tables carry the numbers
        return
    fig, ax = plt.subplots(figsize=(6, 3))
    trained.evaluation["ndcg10"].plot.barh(ax=ax, color="#4a7ab5")
    ax.set_xlabel("NDCG@10 on the validation window")
    fig.tight_layout()
    fig.savefig(folder / "ndcg10.png", dpi=100)
    plt.close(fig)


def train_and_register(
    params: PgParams,
    as_of: date,
    config: RankerConfig,
    tracking_uri: str,
    artifact_root: str,
    oracle_dir: str | None = None,
    pii_key: str | None = None,
) -> TrainResult:
    """Nightly retrain: split in time, fit, evaluate, log an MLflow run, register the challenger version.

    The new version gets the alias `challenger`; only `ml.gate.promote_if_better` moves `champion`.
    `oracle_dir` (demo and benchmark runs only) adds the generator oracle's NDCG to the evaluation;
    `pii_key` is the key ingestion pseudonymized user ids with, to match the oracle's users.
    """
    split, train_frame, valid_frame, groups = load_training_data(params, as_of, config)
    valid_frame = valid_frame.reset_index(drop=True)
    oracle = oracle_utility(oracle_dir, valid_frame, pii_key) if oracle_dir else None
    trained = fit_and_evaluate(train_frame, valid_frame, config, groups, oracle)
    run_id, version = register_challenger(trained, config, tracking_uri, artifact_root, as_of, split)
    return TrainResult(
        model_name=config.model_name,
        model_version=version,
        run_id=run_id,
        as_of_date=as_of,
        split=split.kind,
        train_dates=split.train_dates,
        valid_dates=split.valid_dates,
        train_rows=trained.train_rows,
        train_queries=trained.train_queries,
        valid_rows=trained.valid_rows,
        best_iteration=trained.best_iteration,
        train_rows_per_s=round(trained.train_rows / max(trained.fit_seconds, 1e-9), 1),
        metrics=trained.metrics,
        bias_passed=None if trained.bias is None else trained.bias.passed,
        bias_reasons=[] if trained.bias is None else trained.bias.reasons,
    )
