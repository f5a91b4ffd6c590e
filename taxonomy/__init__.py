"""The O*NET 29.3 subset shipped with Kairoo and the skill vocabulary built from it.

Business meaning: an *occupation* (O*NET-SOC code) is what a person does or a job asks for; its
*skills* are O*NET Skills and Knowledge elements (rated by importance and level) and the technologies
employers name for it (Hot Technology / In Demand). Every skill name anywhere in Kairoo — resumes,
job requirements, learning modules — is one of the canonical names of `skill_vocabulary()`.

All tables are read once per process (lru_cache) from `taxonomy/onet/*.tsv.gz`; callers must not
mutate the returned frames (take a `.copy()` first).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import pandas as pd

from taxonomy.extract import extract_skills, extract_skills_many, skill_surface_form

ONET_DIR = Path(__file__).resolve().parent / "onet"
ONET_VERSION = "29.3"

__all__ = [
    "ONET_DIR",
    "ONET_VERSION",
    "extract_skills",
    "extract_skills_many",
    "occupation_skills",
    "occupations",
    "reported_titles",
    "skill_surface_form",
    "skill_vocabulary",
]

# "Mathematics" is both an O*NET Skill (2.A.1.e) and a Knowledge area (2.C.4.a). Skill names must be
# unique across the vocabulary, so the knowledge element gets a suffix.
_KNOWLEDGE_RENAMES = {"Mathematics": "Mathematics Knowledge"}


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(ONET_DIR / name, sep="\t", dtype=str, keep_default_na=False, quoting=3)


def _slug(text: str) -> str:
    # "+" and "#" carry meaning in tech names (C, C++, C#): spell them out before dropping symbols.
    text = text.lower().replace("+", " plus ").replace("#", " sharp ")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


@lru_cache(maxsize=1)
def occupations() -> pd.DataFrame:
    """One row per O*NET-SOC occupation: `soc_code, title, description, job_zone` (Int64, null when unrated).

    Job zone 1–5 is O*NET's preparation level (1 little or no preparation … 5 extensive), which Kairoo uses
    as the job/career level.
    """
    df = _read("occupations.tsv.gz")
    df["job_zone"] = pd.to_numeric(df["job_zone"].replace("", None)).astype("Int64")
    return df[["soc_code", "title", "description", "job_zone"]].reset_index(drop=True)


@lru_cache(maxsize=1)
def _technology_ids() -> pd.DataFrame:
    """Canonical id per technology name: the commodity code it is most often filed under (ties: lowest)."""
    tech = _read("technology.tsv.gz")
    counts = tech.groupby(["example", "commodity_code"]).size().reset_index(name="n")
    counts = counts.sort_values(["example", "n", "commodity_code"], ascending=[True, False, True])
    best = counts.drop_duplicates("example")
    best = best.assign(skill_id="T-" + best["commodity_code"] + "-" + best["example"].map(_slug))
    return best[["example", "skill_id"]]


@lru_cache(maxsize=1)
def occupation_skills() -> pd.DataFrame:
    """What each occupation needs: `soc_code, skill_id, skill_name, skill_kind, importance, level`.

    Exactly the contract of `raw.onet_skills`. `importance` is 0–1: (IM − 1) / 4 for skills and knowledge;
    for technologies 0.75 when flagged either Hot Technology or In Demand and 1.0 when both (only flagged
    technologies are shipped, so 0.75 is the floor). `level` is LV / 7 (0–1), null for technologies and
    where O*NET recommends suppressing the estimate.
    """
    r = _read("ratings.tsv.gz")
    name = r["element_name"].where(r["kind"] != "knowledge", r["element_name"].replace(_KNOWLEDGE_RENAMES))
    rated = pd.DataFrame(
        {
            "soc_code": r["soc_code"],
            "skill_id": r["element_id"],
            "skill_name": name,
            "skill_kind": r["kind"],
            "importance": (pd.to_numeric(r["im"]) - 1.0) / 4.0,
            "level": pd.to_numeric(r["lv"].replace("", None)) / 7.0,
        }
    )
    tech = _read("technology.tsv.gz").merge(_technology_ids(), on="example")
    tech_imp = 0.5 + 0.25 * (tech["hot"] == "Y") + 0.25 * (tech["in_demand"] == "Y")
    techs = pd.DataFrame(
        {
            "soc_code": tech["soc_code"],
            "skill_id": tech["skill_id"],
            "skill_name": tech["example"],
            "skill_kind": "technology",
            "importance": tech_imp.astype(float),
            "level": float("nan"),
        }
    )
    # One technology can be filed under two commodity codes for one occupation: keep its strongest row.
    techs = techs.sort_values("importance", ascending=False).drop_duplicates(["soc_code", "skill_id"])
    out = pd.concat([rated, techs], ignore_index=True)
    out["importance"] = out["importance"].clip(0.0, 1.0)
    out["level"] = out["level"].clip(0.0, 1.0)
    return out.sort_values(["soc_code", "skill_kind", "skill_id"]).reset_index(drop=True)


@lru_cache(maxsize=1)
def skill_vocabulary() -> pd.DataFrame:
    """Every canonical skill: `skill_id, skill_name, skill_kind`, one row per (unique) name."""
    voc = occupation_skills()[["skill_id", "skill_name", "skill_kind"]].drop_duplicates()
    if voc["skill_name"].duplicated().any() or voc["skill_id"].duplicated().any():
        dup = voc[voc["skill_name"].duplicated(keep=False) | voc["skill_id"].duplicated(keep=False)]
        raise ValueError(f"taxonomy/onet: skill names/ids not unique: {dup.head().to_dict('records')}")
    return voc.sort_values(["skill_kind", "skill_id"]).reset_index(drop=True)


@lru_cache(maxsize=1)
def reported_titles() -> pd.DataFrame:
    """Job titles incumbents reported per occupation: `soc_code, reported_title` (for realistic job names)."""
    return _read("reported_titles.tsv.gz")
