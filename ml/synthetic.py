"""Synthetic ranking data with a known latent utility, for tests and the benchmark.

Not the generator: a small, fast stand-in shaped exactly like the warehouse's ranking inputs
(`features.candidate_pair_features`, `features.interaction_labels`, `marts_build.dim_users`), so ml can be
tested end to end before, and independently of, the dbt models. The latent utility is a nonlinear function
of the pair features plus a hidden per-pair term no model can see; labels are sampled from it; the oracle
ranks by the utility itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from core.database import PgParams, connect
from ml.features import PAIR_FEATURES, PAIR_KEYS
from ml.io import table_columns, write_frame


@dataclass
class SyntheticData:
    pairs: pd.DataFrame  # PAIR_KEYS + PAIR_FEATURES + region_match
    labels: pd.DataFrame  # user_key, item_type, item_id, event_date, grade
    groups: pd.DataFrame  # user_key, gender, age_band, region
    utility: pd.DataFrame  # PAIR_KEYS + utility (the oracle; evaluation only)

    def labelled(self, window_days: int) -> pd.DataFrame:
        """Pairs with their grade in [as_of, as_of + window) — what features.load_pairs returns."""
        lab = self.labels.copy()
        pairs = self.pairs[PAIR_KEYS].copy()
        lab = lab.merge(pairs.drop_duplicates(), on=["user_key", "item_type", "item_id"])
        delta = (pd.to_datetime(lab["event_date"]) - pd.to_datetime(lab["as_of_date"])).dt.days
        lab = lab[(delta >= 0) & (delta < window_days)]
        best = lab.groupby(PAIR_KEYS)["grade"].max().rename("grade").reset_index()
        out = self.pairs.merge(best, on=PAIR_KEYS, how="left")
        out["grade"] = out["grade"].fillna(0).astype(int)
        return out


def make_ranking_data(
    n_users: int = 300,
    n_jobs: int = 400,
    n_modules: int = 120,
    dates: list[date] | None = None,
    jobs_per_user: int = 30,
    modules_per_user: int = 10,
    hidden_sd: float = 0.6,
    unfair: tuple[str, str] | None = None,
    seed: int = 0,
) -> SyntheticData:
    """Candidates, features, labels and oracle utility for `n_users` over `dates`.

    `unfair=(attribute, group)`: that group's engagement ignores every observable feature (only the hidden
    term drives it), so any model ranks them near randomly: the fixture for the bias rule.
    """
    rng = np.random.default_rng(seed)
    dates = dates or [date(2026, 3, 1) + timedelta(days=7 * i) for i in range(3)]
    users = pd.DataFrame(
        {
            "user_key": [f"user{u:06d}" for u in range(n_users)],
            "gender": rng.choice(["f", "m", "x"], n_users, p=[0.47, 0.47, 0.06]),
            "age_band": rng.choice(["18-29", "30-44", "45-59", "60+"], n_users),
            "region": rng.choice(["north", "south", "east", "west"], n_users),
            "level": rng.integers(1, 6, n_users),
            "activity": rng.lognormal(0, 0.6, n_users),
            "category": rng.integers(0, 8, n_users),
        }
    )
    items = {
        "job": pd.DataFrame(
            {
                "item_id": [f"job{j:05d}" for j in range(n_jobs)],
                "level": rng.integers(1, 6, n_jobs),
                "region": rng.choice(["north", "south", "east", "west"], n_jobs),
                "pop": rng.lognormal(0, 1.0, n_jobs),
                "category": rng.integers(0, 8, n_jobs),
                "born": rng.integers(0, 90, n_jobs),
            }
        ),
        "module": pd.DataFrame(
            {
                "item_id": [f"mod{m:05d}" for m in range(n_modules)],
                "level": rng.integers(1, 4, n_modules),
                "region": None,
                "pop": rng.lognormal(0, 1.0, n_modules),
                "category": rng.integers(0, 8, n_modules),
                "born": rng.integers(0, 365, n_modules),
            }
        ),
    }
    frames = []
    for day_index, as_of in enumerate(dates):
        for item_type, per_user in (("job", jobs_per_user), ("module", modules_per_user)):
            pool = items[item_type]
            n_items = len(pool)
            per_user = min(per_user, n_items)
            # Each user's candidates: a random subset of the pool (retrieval has already happened).
            picks = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :per_user].ravel()
            u = np.repeat(np.arange(n_users), per_user)
            it = pool.iloc[picks].reset_index(drop=True)
            us = users.iloc[u].reset_index(drop=True)
            n = len(u)
            overlap_count = rng.poisson(3, n) + 1
            overlap_w = overlap_count * rng.beta(2, 2, n)
            gap_cov = rng.beta(1.5, 3, n) if item_type == "module" else rng.beta(1, 6, n)
            level_gap = (
                (it["level"] - us["level"]).to_numpy() if item_type == "job" else rng.integers(-2, 3, n)
            )
            region_match = (it["region"].to_numpy() == us["region"].to_numpy()).astype(int)
            location_match = np.where(rng.random(n) < 0.7, region_match, rng.integers(0, 2, n))
            same_cat = (it["category"].to_numpy() == us["category"].to_numpy()).astype(int)
            cat_interest = rng.poisson(us["activity"].to_numpy() * (0.3 + 3.0 * same_cat))
            days_since = np.where(cat_interest > 0, rng.integers(0, 28, n), np.nan)
            prior = rng.poisson(0.15 + 0.5 * same_cat, n)
            popularity = rng.poisson(it["pop"].to_numpy() * 5)
            activity = rng.poisson(us["activity"].to_numpy() * 10)
            age = it["born"].to_numpy() + 7 * day_index
            retrieval = overlap_w if item_type == "job" else gap_cov * overlap_count
            observable = (
                0.45 * overlap_w
                + (1.6 * gap_cov if item_type == "module" else 0.0)
                - 0.35 * np.abs(level_gap)
                - 0.9 * (level_gap > 1)
                + 0.6 * location_match
                + 0.55 * np.log1p(cat_interest)
                + 0.25 * np.log1p(popularity)
                + 0.5 * (prior > 0)
                - 0.004 * age
            )
            hidden = rng.normal(0, hidden_sd, n)
            utility = observable + hidden
            if unfair is not None:
                blind = (us[unfair[0]] == unfair[1]).to_numpy()
                utility = np.where(
                    blind, rng.normal(observable.mean(), observable.std(), n) + hidden, utility
                )
            frame = pd.DataFrame(
                {
                    "as_of_date": as_of,
                    "user_key": us["user_key"].to_numpy(),
                    "item_type": item_type,
                    "item_id": it["item_id"].to_numpy(),
                    "retrieval_score": retrieval,
                    "skill_overlap_count": overlap_count,
                    "skill_overlap_weighted": overlap_w,
                    "gap_coverage": gap_cov,
                    "level_gap": level_gap,
                    "location_match": location_match,
                    "region_match": region_match,
                    "item_popularity_7d": popularity,
                    "user_activity_28d": activity,
                    "category_interest_28d": cat_interest,
                    "days_since_category_interest": days_since,
                    "user_item_prior_interactions": prior,
                    "item_age_days": age,
                    "utility": utility,
                    "_activity": us["activity"].to_numpy(),
                }
            )
            frame["retrieval_rank"] = (
                frame.groupby("user_key")["retrieval_score"].rank(ascending=False, method="first").astype(int)
            )
            frames.append(frame)
    pairs = pd.concat(frames, ignore_index=True)
    labels = _sample_labels(pairs, rng)
    utility = pairs[[*PAIR_KEYS, "utility"]].copy()
    pairs = pairs[PAIR_KEYS + PAIR_FEATURES + ["region_match"]]
    groups = users[["user_key", "gender", "age_band", "region"]].copy()
    return SyntheticData(pairs, labels, groups, utility)


def _sample_labels(pairs: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Engagement after the as-of date: more likely and deeper the higher the utility."""
    u = pairs["utility"].to_numpy()
    z = (u - u.mean()) / (u.std() + 1e-9)
    logit = 2.0 * z - 3.6 + 0.4 * np.log(pairs["_activity"].to_numpy())
    engaged = rng.random(len(u)) < 1 / (1 + np.exp(-logit))
    grade = (
        1
        + (rng.random(len(u)) < 1 / (1 + np.exp(-(2 * z - 2))))
        + (rng.random(len(u)) < 1 / (1 + np.exp(-(2 * z - 3.5))))
    )
    lab = pairs.loc[engaged, ["as_of_date", "user_key", "item_type", "item_id"]].copy()
    lab["grade"] = grade[engaged]
    lab["event_date"] = pd.to_datetime(lab["as_of_date"]) + pd.to_timedelta(rng.integers(0, 7, len(lab)), "D")
    lab["event_date"] = lab["event_date"].dt.date
    return lab[["user_key", "item_type", "item_id", "event_date", "grade"]].reset_index(drop=True)


def write_oracle(data: SyntheticData, oracle_dir: Path) -> Path:
    """Store the latent utility where `ml.evaluation.oracle_utility` reads it."""
    oracle_dir.mkdir(parents=True, exist_ok=True)
    # The oracle is keyed without date: take the first date's utility of each pair (hidden term included).
    table = data.utility.drop_duplicates(["user_key", "item_type", "item_id"])
    table[["user_key", "item_type", "item_id", "utility"]].to_parquet(oracle_dir / "utility.parquet")
    return oracle_dir


def write_to_warehouse(params: PgParams, data: SyntheticData) -> None:
    """Load the synthetic data into the tables ml reads (tests/bench only; dbt owns them in production).

    Creates `features.candidate_pair_features`, `features.interaction_labels` and `marts_build.dim_users`
    as plain tables and the matching `ml.candidates` rows. Refuses to run over dbt-built relations.
    """
    with connect(params) as conn:
        for table in (
            "features.candidate_pair_features",
            "features.interaction_labels",
            "marts_build.dim_users",
        ):
            if table_columns(conn, table):
                raise RuntimeError(
                    f"{table} already exists: synthetic data only goes into an empty warehouse"
                )
        num = ", ".join(f"{c} double precision" for c in PAIR_FEATURES if c not in ("retrieval_rank",))
        conn.execute(
            "create table features.candidate_pair_features (as_of_date date, user_key text, item_type text,"
            f" item_id text, retrieval_rank integer, region_match integer, {num})"
        )
        conn.execute(
            "create table features.interaction_labels"
            " (user_key text, item_type text, item_id text, event_date date, grade integer)"
        )
        conn.execute(
            "create table marts_build.dim_users (user_key text, gender text, age_band text, region text)"
        )
        write_frame(
            conn, "features.candidate_pair_features", data.pairs, [*PAIR_KEYS, *PAIR_FEATURES, "region_match"]
        )
        write_frame(conn, "features.interaction_labels", data.labels, list(data.labels.columns))
        write_frame(conn, "marts_build.dim_users", data.groups, list(data.groups.columns))
        write_frame(
            conn,
            "ml.candidates",
            data.pairs,
            ["as_of_date", "user_key", "item_type", "item_id", "retrieval_score", "retrieval_rank"],
        )
