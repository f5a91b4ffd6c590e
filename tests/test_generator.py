"""The seeded generator: determinism, file contracts, referential sanity, the latent model, faults, oracle."""

from __future__ import annotations

import csv
import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import taxonomy
from generator import FAULTS, GeneratorConfig, generate
from generator.oracle import oracle_ranking, true_utility
from generator.tiers import TIERS, get_tier

COLUMNS = {
    "resumes": ["resume_id", "user_id", "full_name", "email", "phone", "headline", "category", "resume_text",
                "skills", "years_experience", "education_level", "location", "region", "gender", "age_band",
                "submitted_at"],
    "job_postings": ["job_id", "title", "company", "category", "location", "region", "description",
                     "responsibilities", "min_qualifications", "preferred_qualifications", "salary_text",
                     "required_skills", "job_level", "onet_soc_code", "posted_at"],
    "hris_employees": ["employee_id", "tenant_id", "user_id", "full_name", "date_of_birth", "gender", "race",
                       "zip", "state", "region", "department", "job_role", "job_level", "onet_soc_code",
                       "manager_id", "hire_date", "termination_date", "employment_status", "monthly_income",
                       "snapshot_date"],
    "interaction_events": ["event_id", "user_id", "event_type", "item_type", "item_id", "occurred_at",
                           "duration_s", "progress_pct", "session_id"],
    "learning_modules": ["module_id", "title", "provider", "skills", "level", "duration_hours"],
}  # fmt: skip
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
START = date(2026, 11, 1)


def _gen(root: Path, end: date, **kw) -> tuple[Path, Path, object]:
    landing, oracle = root / "landing", root / "oracle"
    report = generate(GeneratorConfig("S", landing, oracle, START, end, **kw))
    return landing, oracle, report


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Seven clean days of tier S."""
    return _gen(tmp_path_factory.mktemp("clean"), date(2026, 11, 7), seed=11)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """Two days with every fault injected (on the second day)."""
    return _gen(tmp_path_factory.mktemp("faulty"), date(2026, 11, 2), seed=5, faults=FAULTS)


def _read(landing: Path, source: str) -> pd.DataFrame:
    frames = []
    for path in sorted((landing / source).glob("*/*")):
        if path.suffix == ".jsonl":
            df = pd.read_json(path, lines=True, dtype=False, convert_dates=False)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        frames.append(df.assign(_day=path.parent.name))
    return pd.concat(frames, ignore_index=True)


def _events(landing: Path) -> pd.DataFrame:
    return _read(landing, "interaction_events")


def test_same_seed_same_bytes_other_seed_differs(tmp_path, faulty):
    landing, _, report = faulty
    again, _, report2 = _gen(tmp_path / "again", date(2026, 11, 2), seed=5, faults=FAULTS)
    files = sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    for rel in files:
        assert (landing / rel).read_bytes() == (again / rel).read_bytes(), rel
    assert report.faults == report2.faults
    other, _, _ = _gen(tmp_path / "other", START, seed=6, sources=("interaction_events",))
    day1 = "interaction_events/2026-11-01/events.csv"
    assert (other / day1).read_bytes() != (landing / day1).read_bytes()


def test_files_match_the_contract_columns(clean):
    landing, _, report = clean
    vocab = set(taxonomy.skill_vocabulary()["skill_name"])
    for source, cols in COLUMNS.items():
        if source == "learning_modules":
            df = pd.read_parquet(landing / "reference" / "learning_modules" / "catalogue.parquet")
            assert list(df.columns) == cols
            assert set(df["level"]) <= {"beginner", "intermediate", "advanced"}
            assert df["module_id"].str.fullmatch(r"m\d{5}").all() and len(df) == TIERS["S"].n_modules
            assert all(set(s.split(";")) <= vocab for s in df["skills"])
            continue
        for path in (landing / source).glob("*/*"):
            if path.suffix == ".jsonl":
                keys = {tuple(json.loads(line)) for line in path.read_text().splitlines()}
                assert keys == {tuple(cols)}, path
            else:
                assert next(csv.reader(path.open(encoding="utf-8"))) == cols, path
    assert report.rows("resumes") == TIERS["S"].n_users + 6 * TIERS["S"].new_users_per_day
    resumes = _read(landing, "resumes")
    assert resumes["user_id"].is_unique and resumes["user_id"].str.fullmatch(r"u\d{7}").all()
    assert resumes["submitted_at"].str.match(ISO).all()
    assert all(set(s.split(";")) <= vocab for s in resumes["skills"] if s)
    jobs = _read(landing, "job_postings")
    assert jobs["job_id"].str.fullmatch(r"j\d{6}").all() and jobs["posted_at"].str.match(ISO).all()
    assert all(set(s.split(";")) <= vocab for s in jobs["required_skills"])
    assert set(jobs["onet_soc_code"]) <= set(taxonomy.occupations()["soc_code"])
    assert jobs["job_level"].astype(int).between(1, 5).all()
    assert 3_000 <= report.rows("interaction_events") / 7 <= 6_000


def test_resumes_carry_pii_and_their_skills_in_the_text(clean):
    resumes = _read(clean[0], "resumes")
    for r in resumes.head(50).itertuples():
        text = r.resume_text
        assert r.full_name in text and r.email in text and r.phone in text
        assert re.search(r"https://www\.linkedin\.com/in/\S+", text)
        assert re.search(r"\d+ \w+ (St|Ave|Blvd|Rd|Ln|Dr|Ct|Way), [A-Za-z .]+, [A-Z]{2} \d{5}", text)
        listed = set(r.skills.split(";")) - {""}
        assert listed <= set(taxonomy.extract_skills(text)), r.resume_id


def test_events_reference_existing_users_and_items(clean):
    landing, _, _ = clean
    ev = _events(landing)
    users = _read(landing, "resumes")[["user_id", "_day", "submitted_at"]]
    jobs = _read(landing, "job_postings")[["job_id", "_day", "posted_at"]]
    mods = set(pd.read_parquet(landing / "reference/learning_modules/catalogue.parquet")["module_id"])
    assert set(ev["event_type"]) == {"job_view", "job_save", "job_apply", "module_start", "module_progress",
                                     "module_complete", "tool_session"}  # fmt: skip
    assert ev["event_id"].is_unique and ev["occurred_at"].str.match(ISO).all()
    assert (ev["occurred_at"].str[:10] == ev["_day"]).all()
    # Every user and item existed (was delivered) on or before the day of the event.
    u = ev.merge(users, on="user_id", how="left", suffixes=("", "_u"))
    assert u["_day_u"].notna().all() and (u["_day_u"] <= u["_day"]).all()
    assert (u["submitted_at"] < u["occurred_at"]).all()  # nobody acts before their resume exists
    j = ev[ev["item_type"] == "job"].merge(
        jobs, left_on="item_id", right_on="job_id", how="left", suffixes=("", "_j")
    )
    assert j["_day_j"].notna().all() and (j["_day_j"] <= j["_day"]).all()
    assert (j["posted_at"] < j["occurred_at"]).all()
    assert set(ev.loc[ev["item_type"] == "module", "item_id"]) <= mods
    tools = ev[ev["item_type"] == "tool"]
    assert set(tools["item_id"]) <= {
        "interview_coach",
        "resume_review",
        "salary_insights",
        "career_path_explorer",
    }
    assert (tools["duration_s"] != "").all()
    done = ev[ev["event_type"] == "module_complete"]
    assert (done["progress_pct"].astype(float) == 100).all()


def test_hris_employees_are_users_with_consistent_managers(clean):
    landing = clean[0]
    hris = _read(landing, "hris_employees")
    users = set(_read(landing, "resumes")["user_id"])
    assert set(hris["user_id"]) <= users
    first = hris[hris["_day"] == "2026-11-01"]
    assert first["employee_id"].is_unique and len(first) > 100
    managers = set(first["manager_id"]) - {""}
    assert managers <= set(first["employee_id"])
    level = dict(zip(first["employee_id"], first["job_level"].astype(int), strict=True))
    reports = first[first["manager_id"] != ""]
    assert (reports["manager_id"].map(level) >= reports["job_level"].astype(int)).all()
    later = hris[hris["_day"] > "2026-11-01"]
    assert set(later["employment_status"]) <= {"active", "terminated", "on_leave"}
    gone = later[later["employment_status"] == "terminated"]
    assert (gone["termination_date"] == gone["_day"]).all()
    assert set(later.loc[later["employment_status"] != "terminated", "hire_date"]) <= set(later["_day"])


def test_latent_utility_shows_in_behaviour(clean):
    landing, oracle, _ = clean
    ev = _events(landing)
    views = ev[ev["event_type"] == "job_view"]
    applied = set(zip(*ev.loc[ev["event_type"] == "job_apply", ["user_id", "item_id"]].T.values, strict=True))
    u = true_utility(oracle, views["user_id"].tolist(), "job", views["item_id"].tolist())
    is_apply = np.array([(a, b) in applied for a, b in zip(views["user_id"], views["item_id"], strict=True)])
    q1, q3 = np.quantile(u, [0.25, 0.75])
    assert is_apply[u >= q3].mean() > 4 * max(is_apply[u <= q1].mean(), 1e-3)
    # Modules that close skill gaps get finished; learning spans days.
    mods = ev[ev["item_type"] == "module"]
    pairs = mods.groupby(["user_id", "item_id"]).agg(types=("event_type", set), days=("_day", "nunique"))
    finished = pairs["types"].map(lambda t: "module_complete" in t).to_numpy()
    mu = true_utility(oracle, pairs.index.get_level_values(0).tolist(), "module",
                      pairs.index.get_level_values(1).tolist())  # fmt: skip
    assert mu[finished].mean() > mu[~finished].mean() + 0.3
    assert (pairs["days"] > 1).mean() > 0.2
    # Viewed jobs are better than jobs drawn at random for the same users.
    rng = np.random.default_rng(0)
    random_jobs = [f"j{x:06d}" for x in rng.integers(0, TIERS["S"].n_jobs, len(views))]
    assert u.mean() > true_utility(oracle, views["user_id"].tolist(), "job", random_jobs).mean() + 0.5


def test_protected_attributes_neutral_by_default_and_bias_is_injectable(tmp_path, clean):
    def female_share_of_senior_applies(landing: Path) -> tuple[float, float]:
        ev = _events(landing)
        res = _read(landing, "resumes")[["user_id", "gender"]]
        jobs = _read(landing, "job_postings")[["job_id", "job_level"]]
        app = (
            ev[ev["event_type"] == "job_apply"]
            .merge(res, on="user_id")
            .merge(jobs, left_on="item_id", right_on="job_id")
        )
        senior = app[app["job_level"].astype(int) >= 4]
        return (senior["gender"] == "female").mean(), (res["gender"] == "female").mean()

    fair, pop = female_share_of_senior_applies(clean[0])
    assert abs(fair - pop) < 0.12
    biased_landing, _, _ = _gen(tmp_path, date(2026, 11, 7), seed=11, bias_strength=3.0)
    biased, _ = female_share_of_senior_applies(biased_landing)
    assert biased < fair - 0.15


def test_every_fault_appears_as_reported(faulty):
    landing, _, report = faulty
    assert {f.fault for f in report.faults} == set(FAULTS)
    valid_types = {"job_view", "job_save", "job_apply", "module_start", "module_progress", "module_complete",
                   "tool_session"}  # fmt: skip
    for f in report.faults:
        path = landing / f.path
        assert f.day == date(2026, 11, 2) and path.exists(), f
        if f.fault == "empty_file":
            assert path.stat().st_size == 0
            continue
        if f.fault == "bad_encoding":
            raw = path.read_bytes()
            with pytest.raises(UnicodeDecodeError):
                raw.decode("utf-8")
            df = pd.read_csv(path, dtype=str, encoding="latin-1")
            assert list(df["job_id"]) == list(f.ids) and df["company"].str.contains("[éüèñ]").all()
            continue
        if f.source == "resumes":
            recs = [json.loads(x) for x in path.read_text().splitlines()]
            assert [recs[r - 1]["years_experience"] for r in f.records] == ["ten"] * f.count
            assert sum(r["years_experience"] == "ten" for r in recs) == f.count
            continue
        if f.source == "job_postings":
            header = next(csv.reader(path.open(encoding="utf-8")))
            csv.field_size_limit(10_000_000)
            rows = list(csv.DictReader(path.open(encoding="utf-8")))
            if f.fault == "missing_column":
                assert "posted_at" not in header and [r["job_id"] for r in rows] == list(f.ids)
            elif f.fault == "extra_column":
                assert header[-1] == "remote_policy" and len(rows) == f.count
            elif f.fault == "huge_field":
                assert len(rows[f.records[0] - 1]["description"]) >= 2_000_000
                assert sum(len(r["description"]) > 100_000 for r in rows) == 1
            continue
        rows = list(csv.reader(path.open(encoding="utf-8")))[1:]
        if f.fault == "truncated_file":
            assert not path.read_bytes().endswith(b"\n") and len(rows) == f.records[0]
            assert all(len(r) == 9 for r in rows[:-1]) and len(rows[-1]) < 9
            continue
        picked = [rows[r - 1] for r in f.records]
        assert [r[0] for r in picked] == list(f.ids), f.fault
        if f.fault == "malformed_rows":
            assert all(len(r) != 9 or r[2] not in valid_types for r in picked)
        elif f.fault == "type_errors":
            assert all(r[6] == "12 sec" or r[5] == "yesterday" for r in picked)
        elif f.fault == "late_events":
            assert all(r[5][:10] < "2026-11-02" and ISO.match(r[5]) for r in picked)
        elif f.fault == "future_timestamps":
            assert all(r[5][:10] == "2027-11-02" for r in picked)
        elif f.fault == "duplicates_within_file":
            ids = [r[0] for r in rows]
            assert {i for i in ids if ids.count(i) > 1} == set(f.ids)
        elif f.fault == "duplicates_across_files":
            first = {r[0] for r in csv.reader((landing / "interaction_events/2026-11-01/events.csv").open())}
            assert set(f.ids) <= first
    # Nothing else in the fault day's main events file is off: exactly the reported rows deviate.
    ev_path = landing / "interaction_events/2026-11-02/events.csv"
    rows = list(csv.reader(ev_path.open(encoding="utf-8")))[1:]
    odd = {
        i + 1 for i, r in enumerate(rows)
        if len(r) != 9 or r[2] not in valid_types or r[5][:10] != "2026-11-02"
        or (r[6] and not r[6].isdigit())
    }  # fmt: skip
    in_place = ("malformed_rows", "type_errors", "late_events", "future_timestamps")
    expected = {
        r for f in report.faults if f.path.endswith("2026-11-02/events.csv") and f.fault in in_place
        for r in f.records
    }  # fmt: skip
    assert odd == expected


def test_oracle_api_and_ranking_beats_random_on_held_out_events(clean):
    landing, oracle, _ = clean
    u = true_utility(oracle, ["u0000001", "u0000001", "u0000002"], "job", ["j000004", "j000150", "j000004"])
    assert u.shape == (3,) and u.dtype == np.float32 and np.isfinite(u).all()
    assert true_utility(oracle, ["u0000001"], "module", ["m00003"]).shape == (1,)
    assert np.array_equal(u, true_utility(oracle, ["u0000001", "u0000001", "u0000002"], "job",
                                          ["j000004", "j000150", "j000004"]))  # fmt: skip
    with pytest.raises(ValueError, match="j99"):
        true_utility(oracle, ["u0000001"], "job", ["j99"])
    with pytest.raises(ValueError, match="unknown id"):
        true_utility(oracle, ["u9999999"], "job", ["j000001"])
    ranked = oracle_ranking(oracle, ["u0000001"], "job", [["j000004", "j000150", "j000007"]], k=2)
    three = ["j000004", "j000150", "j000007"]
    util = dict(zip(three, true_utility(oracle, ["u0000001"] * 3, "job", three), strict=True))
    assert ranked == [sorted(util, key=lambda j: -util[j])[:2]]

    # Held-out day: applications on the last day, candidates = every job posted before it.
    ev = _events(landing)
    last = ev[(ev["_day"] == "2026-11-07") & (ev["event_type"] == "job_apply")]
    jobs = _read(landing, "job_postings")
    cands = jobs.loc[jobs["_day"] < "2026-11-07", "job_id"].tolist()
    truth = last.groupby("user_id")["item_id"].apply(set)
    truth = truth[truth.map(lambda s: bool(s & set(cands)))]
    users = truth.index.tolist()
    top = oracle_ranking(oracle, users, "job", [cands] * len(users), k=10)
    hit = np.mean([bool(set(t) & truth[u]) for u, t in zip(users, top, strict=True)])
    rng = np.random.default_rng(1)
    rand = np.mean([bool(set(rng.choice(cands, 10, replace=False)) & truth[u]) for u in users])
    assert len(users) > 20 and hit > 3 * max(rand, 0.01)


def test_config_errors_and_tier_parameters(tmp_path):
    with pytest.raises(ValueError, match="must not be inside"):
        generate(GeneratorConfig("S", tmp_path / "l", tmp_path / "l" / "oracle", START, START))
    with pytest.raises(ValueError, match="unknown faults"):
        generate(GeneratorConfig("S", tmp_path / "l", tmp_path / "o", START, START, faults=("gremlins",)))
    with pytest.raises(ValueError, match="unknown tier"):
        get_tier("XL")
    m, big = get_tier("M"), get_tier("L")
    assert (m.n_users, m.n_jobs, big.n_users, big.n_jobs) == (100_000, 20_000, 1_000_000, 200_000)
    for t in TIERS.values():
        assert 0 < t.active_share <= 1 and t.n_candidates <= t.n_jobs and t.mean_job_views >= 1


def test_cli_writes_selected_sources(tmp_path, capsys):
    from generator.__main__ import main

    main(["--tier", "S", "--start", "2026-11-01", "--end", "2026-11-01", "--landing", str(tmp_path / "l"),
          "--oracle", str(tmp_path / "o"), "--sources", "learning_modules", "job_postings",
          "--seed", "3"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["rows"]["job_postings"] == TIERS["S"].n_jobs and out["rows"]["resumes"] == 0
    assert sorted(p.name for p in (tmp_path / "l").iterdir()) == ["job_postings", "reference"]
    assert (tmp_path / "o" / "world.npz").exists()
