"""The model matrix: one function turns candidate pairs into LightGBM input, for training and scoring alike.

Every feature comes from the warehouse table `features.candidate_pair_features` (incremental by
`as_of_date`, point-in-time: dbt computes each date's features from data before it), so training on past
dates and scoring tonight read the same code path and there is no training/serving skew.

Protected attributes (gender, age band, region) are never features. `region_match` is left out too: it is a
function of the user's region, i.e. a proxy of a protected attribute; `location_match` carries the
business signal (can the user get to this job).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import psycopg

from ml.io import read_frame

PAIR_KEYS = ["as_of_date", "user_key", "item_type", "item_id"]
# One ranking query = one user's candidates of one item type on one as-of date.
QUERY_KEYS = ["as_of_date", "user_key", "item_type"]

PAIR_FEATURES = [
    "retrieval_score",
    "retrieval_rank",
    "skill_overlap_count",
    "skill_overlap_weighted",
    "gap_coverage",
    "level_gap",
    "location_match",
    "item_popularity_7d",
    "user_activity_28d",
    "category_interest_28d",
    "days_since_category_interest",
    "user_item_prior_interactions",
    "item_age_days",
]
# Jobs and modules share one model; the tree splits on this where the two behave differently.
DERIVED_FEATURES = ["item_is_module"]
MODEL_FEATURES = PAIR_FEATURES + DERIVED_FEATURES

PROTECTED = frozenset({"gender", "age_band", "region", "region_match"})

LABEL = "grade"


@dataclass
class ModelMatrix:
    """Rows sorted by query, the float32 feature matrix, query sizes and (for training) graded labels."""

    keys: pd.DataFrame  # PAIR_KEYS, in matrix row order
    x: np.ndarray
    group: np.ndarray  # rows per query, in order
    label: np.ndarray | None
    features: list[str]

    @property
    def rows(self) -> int:
        return len(self.keys)


def check_features(features: list[str]) -> None:
    """Refuse a feature list that contains a protected attribute or its proxy."""
    bad = sorted(set(features) & PROTECTED)
    if bad:
        raise ValueError(f"protected attributes are never model features: {bad}")


def sort_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Deterministic query order: as-of date, user, item type, then item id."""
    return frame.sort_values(PAIR_KEYS, kind="stable").reset_index(drop=True)


def model_matrix(
    frame: pd.DataFrame, features: list[str] | None = None, label: str | None = LABEL
) -> ModelMatrix:
    """Build the LightGBM input from candidate pair rows (any row order; missing values stay NaN)."""
    features = list(features or MODEL_FEATURES)
    check_features(features)
    frame = sort_pairs(frame)
    derived = {"item_is_module": (frame["item_type"] == "module").astype(np.float32)}
    missing = [f for f in features if f not in frame.columns and f not in derived]
    if missing:
        raise ValueError(
            f"candidate pair rows lack feature columns {missing} (features.candidate_pair_features)"
        )
    x = np.empty((len(frame), len(features)), dtype=np.float32)
    for i, name in enumerate(features):
        col = derived[name] if name in derived else frame[name]
        x[:, i] = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float32, na_value=np.nan)
    group = frame.groupby(QUERY_KEYS, sort=False).size().to_numpy()
    y = frame[label].to_numpy(dtype=np.float32) if label and label in frame.columns else None
    return ModelMatrix(frame[PAIR_KEYS].copy(), x, group, y, features)


def query_ids(frame: pd.DataFrame) -> np.ndarray:
    """An integer id per query (QUERY_KEYS), in sorted order."""
    return frame.groupby(QUERY_KEYS, sort=True).ngroup().to_numpy()


# ---------------------------------------------------------------------------------------------- SQL I/O


def load_pairs(
    conn: psycopg.Connection,
    as_of_dates: list[date],
    label_window_days: int | None,
    item_types: tuple[str, ...] = ("job", "module"),
    judged_only: bool = False,
    max_queries: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Candidate pairs with features for the given as-of dates, with their graded label when asked.

    The label of a pair is the highest interaction grade (apply 3 > save 2 > view 1; complete > progress >
    start for modules) in `[as_of_date, as_of_date + label_window_days)`: what the user did after the day
    the candidates were drawn. The join runs inside PostgreSQL.

    `judged_only` keeps the queries with at least one relevant candidate (the only ones with a ranking
    signal) and `max_queries` a reproducible sample of them (by a hash of the query and `seed`), both
    chosen inside PostgreSQL: at tier M one as-of date holds ~12M pairs, of which training needs a few.
    """
    columns = ", ".join(f"f.{c}" for c in PAIR_KEYS + PAIR_FEATURES)
    binds = {
        "dates": list(as_of_dates),
        "types": list(item_types),
        "w": label_window_days,
        "n": max_queries,
        "seed": str(seed),
    }
    if label_window_days is None:
        if judged_only:
            raise ValueError("judged queries need labels: pass label_window_days")
        query = (
            f"select {columns} from features.candidate_pair_features f"
            " where f.as_of_date = any(%(dates)s::date[]) and f.item_type = any(%(types)s::text[])"
        )
    else:
        # work_mem as dbt's models set it: the label sort spilled to disk at the 4MB default.
        conn.execute("set local work_mem = '128MB'")
        # The labels go to an analyzed temporary table, computed once for the judged sample and the read
        # (at tier M, 7 days of user-item interactions per as-of date).
        conn.execute("drop table if exists pg_temp.pair_labels")
        conn.execute(
            """create temporary table pair_labels on commit drop as
            select d.as_of_date, l.user_key, l.item_type, l.item_id, max(l.grade) as grade
            from unnest(%(dates)s::date[]) as d(as_of_date)
            join features.interaction_labels l
              on l.event_date >= d.as_of_date and l.event_date < d.as_of_date + %(w)s::integer
            group by 1, 2, 3, 4""",
            binds,
        )
        conn.execute("analyze pg_temp.pair_labels")
        if judged_only:
            # The judged queries go to an analyzed temporary table too: inline, the planner guessed 2
            # rows for 5,831 and re-scanned a whole as-of date per query (74 s for seven tier-S dates).
            conn.execute("drop table if exists pg_temp.judged_queries")
            conn.execute(
                """create temporary table judged_queries on commit drop as
                select q.as_of_date, q.user_key, q.item_type
                from (
                    select distinct f.as_of_date, f.user_key, f.item_type
                    from features.candidate_pair_features f
                    join pg_temp.pair_labels lab using (as_of_date, user_key, item_type, item_id)
                    where f.as_of_date = any(%(dates)s::date[]) and f.item_type = any(%(types)s::text[])
                ) q
                order by md5(q.as_of_date::text || q.user_key || q.item_type || %(seed)s), 1, 2, 3
                limit %(n)s""",
                binds,
            )
            conn.execute("analyze pg_temp.judged_queries")
        query = f"""
            select {columns}, coalesce(lab.grade, 0) as grade
            from features.candidate_pair_features f
            {"join pg_temp.judged_queries using (as_of_date, user_key, item_type)" if judged_only else ""}
            left join pg_temp.pair_labels lab using (as_of_date, user_key, item_type, item_id)
            where f.as_of_date = any(%(dates)s::date[]) and f.item_type = any(%(types)s::text[])"""
    frame = read_frame(conn, query, binds, dtype={"user_key": str, "item_id": str, "item_type": str})
    if frame.empty:
        return pd.DataFrame(columns=PAIR_KEYS + PAIR_FEATURES + ([LABEL] if label_window_days else []))
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"]).dt.date
    return frame


def candidate_dates(conn: psycopg.Connection, until: date) -> list[date]:
    """As-of dates whose candidate pair features are built, up to and including `until`.

    Read from the feature table (incremental by as_of_date, indexed on it), not ml.candidates: a date whose
    features were never built has nothing to train on.
    """
    rows = conn.execute(
        "select distinct as_of_date from features.candidate_pair_features where as_of_date <= %s order by 1",
        (until,),
    ).fetchall()
    return [r[0] for r in rows]
