"""Training: LightGBM LambdaRank on graded feedback with a time-based split, registered in MLflow.

Labels: what the user did with a candidate in the `label_window_days` after its as-of date (apply 3 >
save 2 > view 1; complete > progress > start for modules). Split in time, never at random: the model is
validated on the latest as-of dates whose label window has closed, and trained only on earlier dates whose
label window closed before validation starts, so no training label comes from the validation period.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd

from ml.features import LABEL, MODEL_FEATURES, QUERY_KEYS, ModelMatrix, model_matrix


@dataclass(frozen=True)
class RankerConfig:
    """Hyper-parameters and rules of the nightly ranker (the lead exposes them as a Dagster Config)."""

    model_name: str = "kairoo-ranker"
    # LightGBM
    num_leaves: int = 31
    learning_rate: float = 0.05
    n_estimators: int = 300
    min_child_samples: int = 50
    feature_fraction: float = 0.9
    bagging_fraction: float = 0.8
    lambdarank_truncation_level: int = 20
    early_stopping_rounds: int = 30
    seed: int = 7
    num_threads: int = 2
    # Data
    label_window_days: int = 7
    validation_dates: int = 1
    # The latest as-of dates that train a night's model: bounds the nightly read and fit as history
    # grows, and keeps the model on recent behaviour. Candidates older than the dates any coming night
    # reads are dropped (see `candidate_horizon_days`).
    train_window_dates: int = 7
    # 1M rows × 200 rounds took ~78 s on 2 threads (stack notes): cap the training queries per night.
    max_train_queries: int = 60_000
    # Validation (and the gate's re-evaluation of the champion) on a fixed sample of judged queries:
    # at M one date has ~150k; 50k keep NDCG@10's standard error near 0.001.
    max_valid_queries: int = 50_000
    predict_chunk_rows: int = 250_000
    # Gate
    eval_k: int = 10
    bias_k: int = 10  # the "top k" of the selection rate (what a user sees on the first screen)
    promotion_margin: float = 0.005  # absolute NDCG@10 the challenger must gain over the champion
    baseline_margin: float = 0.0  # relative NDCG@10 gain over the best baseline for the first model
    bias_threshold: float = 0.8
    min_group_queries: int = 20
    # Scale-out: a dask.distributed scheduler address ("tcp://host:8786"); None trains in process.
    dask_address: str | None = None

    def lgb_params(self) -> dict:
        """LightGBM parameters; deterministic (fixed seeds, row-wise histograms) for reproducible models."""
        return {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [self.eval_k],
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_data_in_leaf": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambdarank_truncation_level": self.lambdarank_truncation_level,
            "seed": self.seed,
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads,
            "verbose": -1,
        }


@dataclass(frozen=True)
class Split:
    train_dates: list[date]
    valid_dates: list[date]
    kind: str  # "time" (normal) or "user_holdout" (only one usable date)


def time_split(
    dates: list[date],
    as_of: date,
    label_window_days: int,
    validation_dates: int,
    train_window_dates: int | None = None,
) -> Split:
    """Pick validation dates (the latest whose label window closed by `as_of`) and earlier training dates.

    Training dates must have their whole label window before the first validation date; the latest
    `train_window_dates` of them train (all when None). With a single usable date there is no time to
    split: the caller holds out users instead (and says so).
    """
    window = timedelta(days=label_window_days)
    usable = sorted(d for d in set(dates) if d + window <= as_of)
    if not usable:
        raise ValueError(
            f"no candidate as-of date has a closed {label_window_days}-day label window by {as_of}: "
            f"candidate dates {sorted(set(dates))}"
        )
    valid = usable[-validation_dates:]
    train = [d for d in usable if d + window <= valid[0]]
    if train_window_dates is not None:
        train = train[-train_window_dates:]
    if not train:
        return Split([usable[-1]], [usable[-1]], "user_holdout")
    return Split(train, valid, "time")


def candidate_horizon_days(config: RankerConfig) -> int:
    """How many days of as-of dates (ending tonight) this and the coming nights' training can read.

    Night T validates on T - label_window and trains on the `train_window_dates` dates before
    T - 2 * label_window; the next `label_window` nights move that window forward. Candidates of
    older dates are never read again: the retention horizon, and what a backfill draws.
    """
    return 2 * config.label_window_days + config.validation_dates - 1 + config.train_window_dates


def dates_to_draw(start: date, end: date, config: RankerConfig) -> list[date]:
    """The as-of dates of [start, end] worth drawing candidates for: the last `candidate_horizon_days`.

    A backfill over months would otherwise pay a retrieval and a pair-feature build per date (~5-10 s
    each at tier S) for dates no training reads and retention drops. A nightly run draws its one date.
    """
    horizon = candidate_horizon_days(config)
    first = max(start, end - timedelta(days=horizon - 1))
    return [first + timedelta(days=i) for i in range((end - first).days + 1)]


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


def user_holdout(frame: pd.DataFrame, share: float = 0.3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split by a stable hash of the user key (fallback when only one as-of date is usable)."""
    h = pd.util.hash_pandas_object(frame["user_key"], index=False, hash_key=f"{seed:016d}").to_numpy()
    valid = (h % 1000) < share * 1000
    return frame[~valid], frame[valid]


def fit_ranker(train: ModelMatrix, valid: ModelMatrix, config: RankerConfig):
    """LambdaRank booster, early-stopped on validation NDCG@k; returns (booster, best_iteration)."""
    import lightgbm as lgb

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


def predict(booster, x: np.ndarray, chunk_rows: int = 250_000) -> np.ndarray:
    """Scores in row chunks (bounded memory; ~120k rows/s on 2 threads per the stack notes)."""
    best = booster.best_iteration or None
    if len(x) == 0:
        return np.array([], dtype=np.float64)
    return np.concatenate(
        [booster.predict(x[i : i + chunk_rows], num_iteration=best) for i in range(0, len(x), chunk_rows)]
    )


@dataclass
class Trained:
    """A fitted booster and its evaluation on the validation window (pure result, before MLflow)."""

    booster: object
    features: list[str]
    best_iteration: int
    train_rows: int
    train_queries: int
    valid_rows: int
    fit_seconds: float
    evaluation: pd.DataFrame  # one row per ranker: model, baselines, oracle
    per_query: pd.DataFrame
    bias: object  # ml.bias.BiasReport | None

    @property
    def metrics(self) -> dict[str, float]:
        out = {}
        for ranker, row in self.evaluation.iterrows():
            prefix = "" if ranker == "model" else f"{ranker}_"
            for metric in ("ndcg10", "map10", "recall50"):
                out[f"{prefix}{metric}"] = float(row[metric])
        out["valid_queries"] = float(self.evaluation.loc["model", "queries"])
        baselines = [r for r in self.evaluation.index if r not in ("model", "oracle")]
        out["best_baseline_ndcg10"] = float(self.evaluation.loc[baselines, "ndcg10"].max())
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
    from ml.bias import bias_report
    from ml.evaluation import compare, per_query_metrics

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
    if config.dask_address:
        from ml.distributed import fit_ranker_dask

        booster, best = fit_ranker_dask(train, valid_judged, config, config.dask_address)
    else:
        booster, best = fit_ranker(train, valid_judged, config)
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

    def to_metadata(self) -> dict:
        out = asdict(self)
        out["as_of_date"] = self.as_of_date.isoformat()
        out["train_dates"] = [d.isoformat() for d in self.train_dates]
        out["valid_dates"] = [d.isoformat() for d in self.valid_dates]
        out["metrics"] = {k: round(v, 5) for k, v in self.metrics.items()}
        return out


def load_training_data(params, as_of: date, config: RankerConfig):
    """Read the split's labelled pairs and the protected groups from the warehouse."""
    from core.database import connect
    from ml.bias import load_groups
    from ml.features import candidate_dates, load_pairs

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


def train_and_register(
    params,
    as_of: date,
    config: RankerConfig,
    tracking_uri: str,
    artifact_root: str,
    oracle_dir: str | None = None,
) -> TrainResult:
    """Nightly retrain: split in time, fit, evaluate, log an MLflow run, register the challenger version.

    The new version gets the alias `challenger`; only `ml.registry.promote_if_better` moves `champion`.
    """
    from ml.evaluation import oracle_utility
    from ml.registry import log_and_register

    split, train_frame, valid_frame, groups = load_training_data(params, as_of, config)
    valid_frame = valid_frame.reset_index(drop=True)
    oracle = oracle_utility(oracle_dir, valid_frame) if oracle_dir else None
    trained = fit_and_evaluate(train_frame, valid_frame, config, groups, oracle)
    run_id, version = log_and_register(
        trained,
        config,
        tracking_uri,
        artifact_root,
        as_of=as_of,
        split=split,
    )
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
