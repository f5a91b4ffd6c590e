"""Batch scoring with the champion: tonight's top-k jobs and learning modules per user.

Reads tonight's candidate pairs from `features.candidate_pair_features` (the same table and the same
`ml.features.model_matrix` as training: no skew), scores them in user chunks (bounded memory; prediction
runs ~120k rows/s on 2 threads), keeps the top k per user and item type, and replaces the as-of date's rows
in `marts_build.recommendations_jobs` / `marts_build.recommendations_modules`, published with the marts.
Reproducible: a fixed model and fixed inputs give identical rows (deterministic trees, ties by item id).

Cold start: until the gate has promoted a first model (it must beat the baselines), users are served
the best simple ranking we have, the skill-overlap retrieval score, labelled as such in `model_name`
and `model_version`, so that a new deployment recommends from its first night and dashboards can tell
model-served rows from baseline ones.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from core.database import PgParams, connect, drop_days_before_newest
from core.windows import RECOMMENDATION_RETENTION_DAYS
from ml.evaluation import baseline_scores
from ml.features import PAIR_FEATURES, PAIR_KEYS, model_matrix, sort_pairs
from ml.io import iter_frames, write_frame
from ml.ranker import Booster, predict
from ml.registry import CHAMPION, load_version

RECOMMENDATION_COLUMNS = ["as_of_date", "user_key", "item_id", "rank", "score", "model_name", "model_version"]
TABLES = {"job": "marts_build.recommendations_jobs", "module": "marts_build.recommendations_modules"}
# What serves before any model is champion (ml.evaluation's `skill_overlap` baseline).
BASELINE_NAME = "baseline-skill-overlap"
BASELINE_VERSION = "retrieval_score"


@dataclass
class ScoreReport:
    as_of_date: date
    model_name: str
    model_version: str
    serving: str  # "champion" or "baseline" (no champion promoted yet)
    users: int
    pairs_scored: int
    job_rows: int
    module_rows: int
    seconds: float
    score_rows_per_s: float

    def to_metadata(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of_date"] = self.as_of_date.isoformat()
        return out


def top_k_recommendations(
    pairs: pd.DataFrame, scores: np.ndarray, k_by_type: dict[str, int], model_name: str, model_version: str
) -> dict[str, pd.DataFrame]:
    """Rank each user's candidates by score (ties: item id) and keep the top k per item type."""
    frame = pairs[["as_of_date", "user_key", "item_type", "item_id"]].assign(
        score=np.asarray(scores, dtype=float)
    )
    frame = frame.sort_values(
        ["item_type", "user_key", "score", "item_id"], ascending=[True, True, False, True], kind="stable"
    )
    frame["rank"] = frame.groupby(["item_type", "user_key"], sort=False).cumcount() + 1
    out = {}
    for item_type, k in k_by_type.items():
        part = frame[(frame["item_type"] == item_type) & (frame["rank"] <= k)]
        out[item_type] = part.assign(model_name=model_name, model_version=str(model_version))[
            RECOMMENDATION_COLUMNS
        ].reset_index(drop=True)
    return out


def cold_start_scores(pairs: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The baseline that serves before any champion, in `model_matrix` order: (sorted pairs, scores)."""
    ordered = sort_pairs(pairs)
    return ordered[PAIR_KEYS], baseline_scores(ordered)["skill_overlap"]


def score_frame(
    booster: Booster, pairs: pd.DataFrame, chunk_rows: int = 250_000, dask_address: str | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Scores for candidate pairs in `model_matrix` order; returns (sorted pairs, scores)."""
    matrix = model_matrix(pairs, booster.feature_name(), label=None)
    return matrix.keys, predict(booster, matrix.x, chunk_rows, dask_address)


def score(
    params: PgParams,
    as_of: date,
    tracking_uri: str,
    model_name: str = "kairoo-ranker",
    top_k_jobs: int = 20,
    top_k_modules: int = 10,
    chunk_rows: int = 250_000,
    dask_address: str | None = None,
) -> ScoreReport:
    """Score tonight's candidates with the `champion` version and write the top-k tables for `as_of`.

    With no champion yet, the skill-overlap baseline serves (see the module docstring).
    """
    started = time.perf_counter()
    champion = load_version(tracking_uri, model_name, CHAMPION)
    if champion is None:
        booster, serving_name, version = None, BASELINE_NAME, BASELINE_VERSION
    else:
        (booster, version), serving_name = champion, model_name
    k_by_type = {"job": top_k_jobs, "module": top_k_modules}
    results: dict[str, list[pd.DataFrame]] = {"job": [], "module": []}
    pairs_scored, predict_seconds, users = 0, 0.0, set()
    with connect(params) as conn:
        for pairs in whole_users(_stream_pairs(conn, as_of, chunk_rows)):
            pairs = pairs.assign(as_of_date=pd.to_datetime(pairs["as_of_date"]).dt.date)
            t = time.perf_counter()
            keys, scores = (
                cold_start_scores(pairs)
                if booster is None
                else score_frame(booster, pairs, dask_address=dask_address)
            )
            predict_seconds += time.perf_counter() - t
            pairs_scored += len(keys)
            users.update(keys["user_key"].unique())
            for item_type, rows in top_k_recommendations(
                keys, scores, k_by_type, serving_name, version
            ).items():
                results[item_type].append(rows)
    written = {}
    with connect(params) as conn:
        for item_type, table in TABLES.items():
            conn.execute(f"delete from {table} where as_of_date = %s", (as_of,))
            rows = (
                pd.concat(results[item_type])
                if results[item_type]
                else pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
            )
            written[item_type] = write_frame(conn, table, rows, RECOMMENDATION_COLUMNS)
            drop_days_before_newest(conn, table, "as_of_date", RECOMMENDATION_RETENTION_DAYS)
    return ScoreReport(
        as_of_date=as_of,
        model_name=serving_name,
        model_version=str(version),
        serving="baseline" if booster is None else "champion",
        users=len(users),
        pairs_scored=pairs_scored,
        job_rows=written["job"],
        module_rows=written["module"],
        seconds=round(time.perf_counter() - started, 3),
        score_rows_per_s=round(pairs_scored / max(predict_seconds, 1e-9), 1),
    )


def whole_users(frames: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """Re-cut a stream of user-ordered frames so that no user's rows are split across two frames."""
    carry = None
    for frame in frames:
        if carry is not None:
            frame = pd.concat([carry, frame], ignore_index=True)
        if frame.empty:
            continue
        last = frame["user_key"].iloc[-1]
        tail = (frame["user_key"] == last).to_numpy()
        carry = frame[tail]
        if (~tail).any():
            yield frame[~tail]
    if carry is not None and len(carry):
        yield carry


def _stream_pairs(conn: psycopg.Connection, as_of: date, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """Tonight's candidate pairs with features, ordered by user, as DataFrames of ~chunk_rows rows."""
    columns = ", ".join(PAIR_KEYS + PAIR_FEATURES)
    yield from iter_frames(
        conn,
        f"select {columns} from features.candidate_pair_features where as_of_date = %(d)s order by user_key",
        {"d": as_of},
        chunk_rows,
        dtype={"user_key": str, "item_id": str, "item_type": str},
    )
