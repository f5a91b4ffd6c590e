"""The shipped O*NET subset and skill extraction: shapes, ranges, and skills found in real text."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

import taxonomy
from tests.conftest import shared_data


def test_occupations_table():
    occ = taxonomy.occupations()
    assert list(occ.columns) == ["soc_code", "title", "description", "job_zone"]
    assert occ["soc_code"].is_unique and len(occ) > 900
    assert occ["soc_code"].str.fullmatch(r"\d{2}-\d{4}\.\d{2}").all()
    zones = occ["job_zone"].dropna()
    assert str(occ["job_zone"].dtype) == "Int64" and zones.between(1, 5).all() and len(zones) > 800


def test_occupation_skills_matches_raw_contract():
    s = taxonomy.occupation_skills()
    assert list(s.columns) == ["soc_code", "skill_id", "skill_name", "skill_kind", "importance", "level"]
    assert set(s["skill_kind"]) == {"skill", "knowledge", "technology"}
    assert s["importance"].between(0, 1).all()
    assert s["level"].dropna().between(0, 1).all()
    assert s.loc[s["skill_kind"] == "technology", "level"].isna().all()
    # Level is blank only where O*NET recommends suppressing the estimate (about 8% of rows).
    assert s.loc[s["skill_kind"] != "technology", "level"].notna().mean() > 0.85
    assert not s.duplicated(["soc_code", "skill_id"]).any()
    assert set(s["soc_code"]) <= set(taxonomy.occupations()["soc_code"])
    # Statisticians: Python is a flagged technology, Mathematics matters more than Repairing.
    ds = s[s["soc_code"] == "15-2041.00"].set_index("skill_name")
    assert ds.loc["Python", "importance"] >= 0.75
    assert ds.loc["Mathematics", "importance"] > ds.loc["Repairing", "importance"]
    # (IM - 1) / 4 of the raw value: Chief Executives' Reading Comprehension IM is 4.12.
    ce = s[(s["soc_code"] == "11-1011.00") & (s["skill_id"] == "2.A.1.a")]
    assert ce["importance"].iloc[0] == pytest.approx((4.12 - 1) / 4)
    assert ce["level"].iloc[0] == pytest.approx(4.62 / 7)


def test_vocabulary_is_unique_and_covers_table():
    v = taxonomy.skill_vocabulary()
    assert list(v.columns) == ["skill_id", "skill_name", "skill_kind"]
    assert v["skill_name"].is_unique and v["skill_id"].is_unique
    assert set(v["skill_name"]) == set(taxonomy.occupation_skills()["skill_name"])
    tech = v[v["skill_kind"] == "technology"]
    assert tech["skill_id"].str.match(r"^T-\d{8}-[a-z0-9-]+$").all()
    assert {"Mathematics", "Mathematics Knowledge"} <= set(v["skill_name"])


def test_every_skill_has_a_recognised_surface_form():
    """The generator writes skills with skill_surface_form; each must come back from extraction."""
    for name in taxonomy.skill_vocabulary()["skill_name"]:
        form = taxonomy.skill_surface_form(name)
        assert name in taxonomy.extract_skills(f"Experienced with {form}, among other things."), (name, form)


def test_extract_from_handwritten_text():
    text = (
        "Built ETL in Python/SQL with pandas and scikit-learn; dashboards in Tableau and Excel. "
        "Deployed to AWS with Docker and k8s. Strong problem-solving and customer service. "
        "I like to go hiking, design gardens, react quickly and zoom in on details; a slack rope. "
        "Managed by R K Sharma. Speaking with clients daily."
    )
    got = taxonomy.extract_skills(text)
    assert got == sorted(set(got))
    for want in ["Python", "Structured query language SQL", "pandas", "Scikit-learn", "Tableau",
                 "Microsoft Excel", "Amazon Web Services AWS software", "Docker", "Kubernetes",
                 "Complex Problem Solving", "Customer and Personal Service"]:  # fmt: skip
        assert want in got, want
    for absurd in ["Go", "Design", "React", "Zoom", "Slack", "R", "Speaking"]:
        assert absurd not in got, absurd
    assert "React" in taxonomy.extract_skills("Front end in React and TypeScript")
    assert "R" in taxonomy.extract_skills("Statistics in R, Python and SAS")
    # Phrases seen in real postings that contain a one-letter language but are not one.
    assert taxonomy.extract_skills("Work with C-level partners; Objective-C apps") == []
    assert taxonomy.extract_skills("Google Cloud Platform in New Jersey") == []
    assert taxonomy.extract_skills("") == [] and taxonomy.extract_skills_many(["C++", ""]) == [["C++"], []]


@pytest.mark.real_data
def test_extract_from_real_resume_and_job_posting():
    resumes = pd.read_csv(shared_data("resumes", "UpdatedResumeDataSet.csv"))
    ds = resumes[resumes["Category"] == "Data Science"]["Resume"].iloc[0]
    got = set(taxonomy.extract_skills(ds))
    assert {"Python", "Structured query language SQL", "Tableau", "NumPy", "pandas"} <= got
    assert "R" not in set(taxonomy.extract_skills(resumes["Resume"].iloc[500]))  # "R K ELECTRICAL PVT"

    with open(shared_data("job_postings", "job_skills.csv"), newline="", encoding="utf-8") as f:
        jobs = list(csv.DictReader(f))
    texts = [" ".join([j["Responsibilities"], j["Minimum Qualifications"], j["Preferred Qualifications"]])
             for j in jobs]  # fmt: skip
    found = taxonomy.extract_skills_many(texts)
    assert sum(1 for f in found if f) / len(found) > 0.8  # most postings name at least one skill
    sw = [f for j, f in zip(jobs, found, strict=True) if "Software Engineer" in j["Title"]]
    assert sum("Python" in f or "Oracle Java" in f for f in sw) / len(sw) > 0.3
