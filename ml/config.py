"""The ranking knobs: how candidates are drawn, how the ranker learns, what the promotion gate demands.

One object, `RankingConfig`, is read by every ranking step (candidates, training, the gate, scoring), so
a changed training window also changes which as-of dates retrieval draws, and a changed margin reaches
the gate that applies it. The Dagster side exposes it as the `ranking` resource (assets/ranking.py).
Plain frozen dataclasses: no I/O, nothing imported from the rest of `ml`; day counts that dbt shares
come from their one owner, `core.windows`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core import windows


@dataclass(frozen=True)
class CandidateConfig:
    """How many items each user gets and which pairs are allowed."""

    jobs_per_user: int = 100
    modules_per_user: int = 20
    chunk_rows: int = 4096
    # A job more than one level above the user's current level is a stretch nobody applies to; more than two
    # below is a step back. Users or jobs without a known level are not filtered.
    max_level_above: int = 1
    max_level_below: int = 2
    # Region is a protected attribute: used here only as a reachability rule, never as a model feature.
    location_filter: bool = True
    # Days of as-of dates kept in ml.candidates (and, by dbt's `candidate_retention_days`, in
    # features.candidate_pair_features): at M about 12M rows a night. Covers the 21 days the default
    # ranker reads (`candidate_horizon_days` below) with two weeks to spare for a wider training window.
    retention_days: int = windows.CANDIDATE_RETENTION_DAYS
    # Users per past as-of date of a backfill (tonight's date always has everyone: it is served). Those
    # dates only train, on at most 60k queries over 7 dates: at tier M a full date is ~12M pairs and
    # took ~100 s to draw and store even for 20k users; 10k users still give ~14k judged queries a date.
    backfill_users: int = 10_000


@dataclass(frozen=True)
class RankerConfig:
    """Hyper-parameters of the nightly ranker, its training window and the promotion gate's rules."""

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

    def lgb_params(self) -> dict[str, Any]:
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
class RankingConfig:
    """The whole ranking stage's configuration: retrieval, ranker, gate, and what scoring serves."""

    ranker: RankerConfig = field(default_factory=RankerConfig)
    candidates: CandidateConfig = field(default_factory=CandidateConfig)

    def __post_init__(self) -> None:
        # A config that trains on dates retention already dropped would silently train on fewer dates.
        horizon = candidate_horizon_days(self.ranker)
        if horizon > self.candidates.retention_days:
            raise ValueError(
                f"ranking config: label_window_days={self.ranker.label_window_days}, "
                f"validation_dates={self.ranker.validation_dates} and "
                f"train_window_dates={self.ranker.train_window_dates} read {horizon} days of candidates, "
                f"but ml.candidates keeps {self.candidates.retention_days} "
                "(CandidateConfig.retention_days = dbt var candidate_retention_days): shorten the window "
                "or raise both retention settings together"
            )


def candidate_horizon_days(config: RankerConfig) -> int:
    """How many days of as-of dates (ending tonight) this and the coming nights' training can read.

    Night T validates on T - label_window and trains on the `train_window_dates` dates before
    T - 2 * label_window; the next `label_window` nights move that window forward. Candidates of
    older dates are never read again: the retention horizon, and what a backfill draws.
    """
    return 2 * config.label_window_days + config.validation_dates - 1 + config.train_window_dates
