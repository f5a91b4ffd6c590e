"""Candidate retrieval, the warehouse side: read tonight's profiles, draw the as-of dates, store the pairs.

For every user, the few hundred items worth ranking: `ml.sparse` computes them (skill overlap for jobs,
skill-gap coverage for modules, in sparse matrices); this module reads its inputs from the `features`
schema, decides which users and items existed on each as-of date and which dates a run draws, and
replaces the date's rows in `ml.candidates`, the table dbt's `features.candidate_pair_features` is built
over.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from core.database import PgParams, analyze, connect, drop_days_before_newest
from ml.config import CandidateConfig, RankerConfig
from ml.io import read_frame, table_columns, write_frame
from ml.sparse import PAIR_SKILL_COLUMNS, job_candidates, module_candidates, pair_skill_features
from ml.window import dates_to_draw

CANDIDATE_COLUMNS = [
    "as_of_date", "user_key", "item_type", "item_id", "retrieval_score", "retrieval_rank",
    *PAIR_SKILL_COLUMNS,
]  # fmt: skip


@dataclass
class CandidateReport:
    """What retrieval produced for one as-of date."""

    as_of_date: date
    users: int
    jobs: int
    modules: int
    job_candidates: int
    module_candidates: int
    users_without_job_candidates: int
    seconds: float
    filters: list[str] = field(default_factory=list)

    def to_metadata(self) -> dict[str, Any]:
        out = asdict(self)
        out["as_of_date"] = self.as_of_date.isoformat()
        return out


def _read_attrs(conn: psycopg.Connection, table: str, key: str) -> pd.DataFrame | None:
    """Level and region per entity from a features table, whichever of the known column names exist."""
    columns = table_columns(conn, table)
    if not columns or key not in columns:
        return None
    level = next((c for c in ("job_level", "current_job_level", "level") if c in columns), None)
    picks = [f"{key}::text as key"]
    if level:
        picks.append(f"{level}::double precision as level")
    if "region" in columns:
        picks.append("region")
    if len(picks) == 1:
        return None
    frame = read_frame(conn, f"select {', '.join(picks)} from {table}", dtype={"key": str})
    return frame.drop_duplicates("key").set_index("key")


def _read_available(conn: psycopg.Connection, table: str, key: str, since_column: str) -> pd.Series | None:
    """The first day each entity existed (signup, posting), indexed by key; None if the table lacks it."""
    columns = table_columns(conn, table)
    if not columns or key not in columns or since_column not in columns:
        return None
    query = f"select {key}::text as key, {since_column} as since from {table}"
    frame = read_frame(conn, query, dtype={"key": str})
    return pd.to_datetime(frame.drop_duplicates("key").set_index("key")["since"])


def existing_on(frame: pd.DataFrame, key: str, since: pd.Series | None, as_of: date) -> pd.DataFrame:
    """Rows of `frame` whose entity existed by `as_of` (unknown first day: kept).

    Tonight this keeps everyone. For a past as-of date (a backfill) it keeps out users who signed up and
    jobs posted later: training must not learn from candidates nobody could have been shown that day.
    """
    if since is None or frame.empty:
        return frame
    first = pd.to_datetime(frame[key].map(since))
    return frame[first.isna() | (first <= pd.Timestamp(as_of))]


def user_sample(user_keys: pd.Series, n_users: int | None) -> set[str] | None:
    """A reproducible sample of `n_users` distinct keys (by a stable hash); None (everyone) when fewer."""
    users = pd.Series(user_keys.unique())
    if n_users is None or len(users) <= n_users:
        return None
    hashed = pd.util.hash_pandas_object(users, index=False).to_numpy()
    return set(users.to_numpy()[np.argsort(hashed, kind="stable")[:n_users]])


@dataclass
class RetrievalInputs:
    """Tonight's profiles as retrieval reads them from the `features` schema (read once per run)."""

    user_skills: pd.DataFrame  # user_key, skill_id, weight
    job_skills: pd.DataFrame  # job_id, skill_id, importance
    module_skills: pd.DataFrame  # module_id, skill_id
    gaps: pd.DataFrame  # user_key, skill_id, gap_weight (largest over target occupations)
    user_attrs: pd.DataFrame | None  # level, region by user_key
    job_attrs: pd.DataFrame | None  # level, region by job_id
    signed_up: pd.Series | None  # first day by user_key
    posted: pd.Series | None  # first day by job_id


def read_retrieval_inputs(params: PgParams) -> RetrievalInputs:
    """Read what retrieval needs; a backfill reads it once for all its as-of dates (~25 s at tier M)."""
    with connect(params) as conn:
        return RetrievalInputs(
            user_skills=read_frame(
                conn,
                "select user_key, skill_id::text, weight from features.user_skills",
                dtype={"skill_id": str},
            ),
            job_skills=read_frame(
                conn,
                "select job_id::text, skill_id::text, importance from features.job_skills",
                dtype={"job_id": str, "skill_id": str},
            ),
            module_skills=read_frame(
                conn,
                "select module_id::text, skill_id::text from features.module_skills",
                dtype={"module_id": str, "skill_id": str},
            ),
            gaps=read_frame(
                conn,
                "select user_key, skill_id::text, max(gap_weight) as gap_weight"
                " from features.user_skill_gaps group by 1, 2",
                dtype={"skill_id": str},
            ),
            user_attrs=_read_attrs(conn, "features.user_features", "user_key"),
            job_attrs=_read_attrs(conn, "features.job_features", "job_id"),
            signed_up=_read_available(conn, "features.user_features", "user_key", "signup_date"),
            posted=_read_available(conn, "features.job_features", "job_id", "posted_date"),
        )


def generate_candidates(
    params: PgParams,
    as_of: date,
    config: CandidateConfig | None = None,
    n_users: int | None = None,
    inputs: RetrievalInputs | None = None,
) -> CandidateReport:
    """Compute tonight's job and module candidates from the `features` schema into `ml.candidates`.

    Idempotent per as-of date: the date's rows are replaced in one transaction, and dates more than
    `config.retention_days` before the newest are dropped with them. For a past as-of date only users
    and jobs that existed by then are retrieved (with tonight's skill profiles: they are not versioned).
    `n_users` draws for a reproducible sample of users only: past dates of a backfill serve training,
    which reads a sample of queries anyway (see `CandidateConfig.backfill_users`). `inputs`: profiles
    already read (`read_retrieval_inputs`), to draw several dates from one read.
    """
    config = config or CandidateConfig()
    started = time.perf_counter()
    inputs = inputs or read_retrieval_inputs(params)
    user_attrs, job_attrs, module_skills = inputs.user_attrs, inputs.job_attrs, inputs.module_skills
    user_skills = existing_on(inputs.user_skills, "user_key", inputs.signed_up, as_of)
    gaps = existing_on(inputs.gaps, "user_key", inputs.signed_up, as_of)
    sampled = user_sample(pd.concat([user_skills["user_key"], gaps["user_key"]]), n_users)
    if sampled is not None:
        user_skills = user_skills[user_skills["user_key"].isin(sampled)]
        gaps = gaps[gaps["user_key"].isin(sampled)]
    job_skills = existing_on(inputs.job_skills, "job_id", inputs.posted, as_of)

    filters = []
    if user_attrs is not None and job_attrs is not None:
        if "level" in user_attrs and "level" in job_attrs:
            filters.append(f"level within -{config.max_level_below}..+{config.max_level_above}")
        if config.location_filter and "region" in user_attrs and "region" in job_attrs:
            filters.append("same region or remote")
    jobs = (
        job_candidates(user_skills, job_skills, as_of, config, user_attrs, job_attrs)
        if len(user_skills) and len(job_skills)
        else pd.DataFrame(columns=CANDIDATE_COLUMNS)
    )
    modules = (
        module_candidates(gaps, module_skills, as_of, config)
        if len(gaps) and len(module_skills)
        else pd.DataFrame(columns=CANDIDATE_COLUMNS)
    )
    if len(jobs):
        jobs[PAIR_SKILL_COLUMNS] = pair_skill_features(
            jobs, user_skills, gaps, job_skills, "job_id", "importance"
        )
    if len(modules):
        modules[PAIR_SKILL_COLUMNS] = pair_skill_features(
            modules, user_skills, gaps, module_skills, "module_id", None
        )
    with connect(params) as conn:
        conn.execute("delete from ml.candidates where as_of_date = %s", (as_of,))
        write_frame(conn, "ml.candidates", jobs, CANDIDATE_COLUMNS)
        write_frame(conn, "ml.candidates", modules, CANDIDATE_COLUMNS)
        drop_days_before_newest(conn, "ml.candidates", "as_of_date", config.retention_days)
    # Fresh statistics for tonight's date: without them the planner estimates one candidate row for a
    # date past its histogram and the pair-feature build ran nested loops for minutes.
    analyze(params, ["ml.candidates"])
    n_users = user_skills["user_key"].nunique() if len(user_skills) else 0
    return CandidateReport(
        as_of_date=as_of,
        users=int(n_users),
        jobs=int(job_skills["job_id"].nunique()) if len(job_skills) else 0,
        modules=int(module_skills["module_id"].nunique()) if len(module_skills) else 0,
        job_candidates=len(jobs),
        module_candidates=len(modules),
        users_without_job_candidates=int(n_users - (jobs["user_key"].nunique() if len(jobs) else 0)),
        seconds=round(time.perf_counter() - started, 3),
        filters=filters,
    )


def draw_candidates(
    params: PgParams, start: date, end: date, ranker: RankerConfig, config: CandidateConfig
) -> list[CandidateReport]:
    """Draw the candidates of a run over [start, end]: one report per as-of date drawn, `end` last.

    A nightly run draws its one date. A range run (a backfill) draws only the dates this and the coming
    nights' training reads (`ml.window.dates_to_draw`: the ranker's label and training windows decide
    them), past ones for a sample of `config.backfill_users` users (they train, they are not served), all
    from one read of the profiles.
    """
    inputs = read_retrieval_inputs(params)
    return [
        generate_candidates(
            params, day, config, n_users=None if day == end else config.backfill_users, inputs=inputs
        )
        for day in dates_to_draw(start, end, ranker)
    ]
