"""Candidate retrieval: the sparse chunked search equals a brute-force reference; SQL path idempotent."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg

from ml.candidates import generate_candidates
from ml.config import CandidateConfig
from ml.sparse import brute_force_candidates, job_candidates, module_candidates

AS_OF = date(2026, 3, 1)


def _skills(seed: int, n_users: int = 60, n_jobs: int = 45, n_skills: int = 30):
    rng = np.random.default_rng(seed)
    users = [
        (f"u{u:03d}", f"s{s:02d}", float(rng.integers(1, 5)) / 4)
        for u in range(n_users)
        for s in rng.choice(n_skills, size=rng.integers(0, 7), replace=False)
    ]
    jobs = [
        (f"j{j:03d}", f"s{s:02d}", float(rng.integers(1, 9)) / 8)
        for j in range(n_jobs)
        for s in rng.choice(n_skills, size=rng.integers(1, 9), replace=False)
    ]
    return (
        pd.DataFrame(users, columns=["user_key", "skill_id", "weight"]),
        pd.DataFrame(jobs, columns=["job_id", "skill_id", "importance"]),
    )


def _key(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[["user_key", "item_id", "retrieval_score", "retrieval_rank"]].copy()
    out["retrieval_score"] = out["retrieval_score"].round(9)
    out["retrieval_rank"] = out["retrieval_rank"].astype("int64")
    return out.sort_values(["user_key", "retrieval_rank"]).reset_index(drop=True)


def test_sparse_chunks_equal_brute_force_with_filters():
    user_skills, job_skills = _skills(1)
    rng = np.random.default_rng(2)
    users = sorted(user_skills["user_key"].unique())
    jobs = sorted(job_skills["job_id"].unique())
    user_attrs = pd.DataFrame(
        {
            "level": rng.integers(1, 6, len(users)).astype(float),
            "region": rng.choice(["n", "s", None], len(users)),
        },
        index=users,
    )
    user_attrs.loc[users[0], "level"] = np.nan  # unknown level passes the level rule
    job_attrs = pd.DataFrame(
        {
            "level": rng.integers(1, 6, len(jobs)).astype(float),
            "region": rng.choice(["n", "s", None], len(jobs)),
        },
        index=jobs,
    )
    config = CandidateConfig(jobs_per_user=7, chunk_rows=8)  # several chunks, uneven last chunk

    def allowed(u: str, j: str) -> bool:
        ul, jl = user_attrs.at[u, "level"], job_attrs.at[j, "level"]
        ur, jr = user_attrs.at[u, "region"], job_attrs.at[j, "region"]
        level_ok = np.isnan(ul) or -2 <= jl - ul <= 1
        region_ok = ur is None or jr is None or ur == jr
        return level_ok and region_ok

    got = job_candidates(user_skills, job_skills, AS_OF, config, user_attrs, job_attrs)
    want = brute_force_candidates(user_skills, job_skills, k=7, allowed=allowed)
    assert len(want) > 100
    pd.testing.assert_frame_equal(_key(got), _key(want))
    assert (got["item_type"] == "job").all() and (got["as_of_date"] == AS_OF).all()

    # Without filters the result changes (the rule did something) and still equals the reference.
    unfiltered = job_candidates(user_skills, job_skills, AS_OF, config)
    pd.testing.assert_frame_equal(
        _key(unfiltered), _key(brute_force_candidates(user_skills, job_skills, k=7))
    )
    assert len(unfiltered) > len(got)


def test_modules_cover_the_largest_gaps():
    gaps = pd.DataFrame(
        [("a", "x", 0.9), ("a", "y", 0.1), ("b", "y", 0.5)], columns=["user_key", "skill_id", "gap_weight"]
    )
    modules = pd.DataFrame(
        [("m1", "x"), ("m2", "y"), ("m3", "x"), ("m3", "y"), ("m4", "z")], columns=["module_id", "skill_id"]
    )
    got = module_candidates(gaps, modules, AS_OF, CandidateConfig(modules_per_user=2))
    a = got[got.user_key == "a"].sort_values("retrieval_rank")
    assert a["item_id"].tolist() == ["m3", "m1"]  # m3 covers both gaps (1.0) > m1 (0.9)
    b = got[got.user_key == "b"].sort_values("retrieval_rank")
    assert b["item_id"].tolist() == ["m2", "m3"]  # tie on 0.5 broken by module id, reproducibly
    assert "m4" not in set(got["item_id"])  # covers no gap: never a candidate


def test_generate_candidates_writes_idempotently(fresh_db):
    user_skills, job_skills = _skills(3, n_users=20, n_jobs=15)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute(
            "create table features.user_skills (user_key text, skill_id text, weight double precision)"
        )
        conn.execute(
            "create table features.job_skills (job_id text, skill_id text, importance double precision)"
        )
        conn.execute("create table features.module_skills (module_id text, skill_id text)")
        conn.execute(
            "create table features.user_skill_gaps"
            " (user_key text, target_soc_code text, skill_id text, gap_weight double precision)"
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into features.user_skills values (%s, %s, %s)", user_skills.values.tolist()
            )
            cur.executemany("insert into features.job_skills values (%s, %s, %s)", job_skills.values.tolist())
            cur.executemany(
                "insert into features.module_skills values (%s, %s)",
                [("m1", "s01"), ("m2", "s02"), ("m2", "s03")],
            )
            cur.executemany(
                "insert into features.user_skill_gaps values (%s, 'soc', %s, %s)",
                [("u000", "s01", 0.5), ("u000", "s02", 0.7), ("u001", "s03", 0.2)],
            )
    config = CandidateConfig(jobs_per_user=5)
    first = generate_candidates(fresh_db, AS_OF, config)
    second = generate_candidates(fresh_db, AS_OF, config)
    assert first.job_candidates == second.job_candidates > 0
    assert first.module_candidates == 3 and first.filters == []  # no user/job feature tables yet
    with psycopg.connect(fresh_db.conninfo()) as conn:
        rows = conn.execute(
            "select item_type, count(*) from ml.candidates where as_of_date = %s group by 1 order by 1",
            (AS_OF,),
        ).fetchall()
        stored = pd.DataFrame(
            conn.execute(
                "select user_key, item_id, retrieval_score, retrieval_rank from ml.candidates"
                " where item_type = 'job'"
            ).fetchall(),
            columns=["user_key", "item_id", "retrieval_score", "retrieval_rank"],
        )
    assert rows == [("job", first.job_candidates), ("module", 3)]  # replaced, not appended
    pd.testing.assert_frame_equal(_key(stored), _key(brute_force_candidates(user_skills, job_skills, k=5)))
    assert first.to_metadata()["as_of_date"] == "2026-03-01"

    # A past as-of date (a backfill) retrieves only users and jobs that existed by then.
    past = AS_OF - timedelta(days=10)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        conn.execute("create table features.user_features (user_key text, signup_date date)")
        conn.execute("create table features.job_features (job_id text, posted_date date)")
        with conn.cursor() as cur:
            cur.executemany(
                "insert into features.user_features values (%s, %s)",
                [(u, AS_OF if u == "u000" else past) for u in sorted(user_skills["user_key"].unique())],
            )
            cur.executemany(
                "insert into features.job_features values (%s, %s)",
                [(j, AS_OF if j < "j005" else None) for j in sorted(job_skills["job_id"].unique())],
            )
    generate_candidates(fresh_db, past, config)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        drawn = conn.execute(
            "select user_key, item_type, item_id from ml.candidates where as_of_date = %s", (past,)
        ).fetchall()
    assert drawn and all(u != "u000" for u, _, _ in drawn)  # signed up after `past`
    assert all(j >= "j005" for _, t, j in drawn if t == "job")  # posted after `past`; unknown kept
    assert any(t == "module" for _, t, _ in drawn)  # u001's gap: modules have no first day

    # A backfill's past dates may draw for a reproducible sample of users.
    def sampled_users():
        generate_candidates(fresh_db, past, config, n_users=5)
        with psycopg.connect(fresh_db.conninfo()) as conn:
            return conn.execute(
                "select distinct user_key from ml.candidates where as_of_date = %s order by 1", (past,)
            ).fetchall()

    first_sample = sampled_users()
    assert len(first_sample) == 5 and sampled_users() == first_sample

    # Retention: dates more than `retention_days` before the newest are dropped.
    generate_candidates(fresh_db, AS_OF + timedelta(days=config.retention_days + 1), config)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        dates = conn.execute("select distinct as_of_date from ml.candidates order by 1").fetchall()
    assert dates == [(AS_OF + timedelta(days=config.retention_days + 1),)]


def test_candidate_retention_matches_dbt():
    """ml.candidates and the dbt pair features keep the same as-of dates, and they cover training."""
    import yaml

    from ml.config import RankerConfig, candidate_horizon_days

    project = yaml.safe_load((Path(__file__).parent.parent / "dbt_project" / "dbt_project.yml").read_text())
    retention = CandidateConfig().retention_days
    assert project["vars"]["candidate_retention_days"] == retention
    assert candidate_horizon_days(RankerConfig()) <= retention


def test_pair_skill_features_match_a_brute_force_reference():
    from ml.sparse import pair_skill_features

    user_skills = pd.DataFrame(
        [("a", "x", 1.0), ("a", "y", 0.5), ("b", "y", 0.2)], columns=["user_key", "skill_id", "weight"]
    )
    gaps = pd.DataFrame(
        [("a", "z", 0.8), ("a", "w", 0.2), ("b", "x", 1.0)], columns=["user_key", "skill_id", "gap_weight"]
    )
    job_skills = pd.DataFrame(
        [("j1", "x", 0.9), ("j1", "z", 0.4), ("j2", "y", 0.3), ("j2", "w", 0.7)],
        columns=["job_id", "skill_id", "importance"],
    )
    pairs = pd.DataFrame({"user_key": ["a", "a", "b", "c"], "item_id": ["j1", "j2", "j1", "j2"]})
    out = pair_skill_features(pairs, user_skills, gaps, job_skills, "job_id", "importance", chunk_rows=2)

    def brute(u, j):
        us = {s: w for k, s, w in user_skills.itertuples(index=False) if k == u}
        js = {s: w for k, s, w in job_skills.itertuples(index=False) if k == j}
        gs = {s: w for k, s, w in gaps.itertuples(index=False) if k == u}
        shared = set(us) & set(js)
        total = sum(gs.values())
        covered = sum(w for s, w in gs.items() if s in js)
        return len(shared), sum(us[s] * js[s] for s in shared), covered / total if total else 0.0

    expected = [brute(u, j) for u, j in pairs.itertuples(index=False)]
    assert out["skill_overlap_count"].tolist() == [e[0] for e in expected]
    assert np.allclose(out["skill_overlap_weighted"], [e[1] for e in expected])
    assert np.allclose(out["gap_coverage"], [e[2] for e in expected])
