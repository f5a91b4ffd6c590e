"""Regenerate the shipped O*NET 29.3 subset in `taxonomy/onet/` from the shared raw files.

Usage: `python -m taxonomy.build_subset [SOURCE_DIR]` (default `../shared/data/taxonomy/onet`).

What is kept, and why (the whole database is ~20 MB; the project ships < 1 MB of it):
- `occupations.tsv.gz`: every O*NET-SOC code with title, description and job zone (1–5, blank when O*NET
  has none) — the occupation dimension of the warehouse.
- `ratings.tsv.gz`: Skills and Knowledge, scales IM (importance 1–5) and LV (level 0–7), one row per
  (occupation, element) with both scales side by side. Standard errors, CIs and dates are dropped.
- `technology.tsv.gz`: Technology Skills rows flagged Hot Technology or In Demand only (the tools that
  employers actually ask for; the other ~20k rows are long-tail product names nobody searches for).
- `reported_titles.tsv.gz`: sample of job titles reported by incumbents, used by the generator to name jobs.

Output is deterministic (sorted rows, gzip mtime 0) so regenerating yields identical bytes.
"""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[1] / "shared" / "data" / "taxonomy" / "onet"
TARGET = HERE / "onet"


def _read(source: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(source / name, sep="\t", dtype=str, keep_default_na=False, quoting=3)


def _write(df: pd.DataFrame, name: str) -> Path:
    buf = io.StringIO()
    df.to_csv(buf, sep="\t", index=False, lineterminator="\n")
    path = TARGET / name
    # mtime=0: byte-identical output on every rebuild, so git only sees real changes.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buf.getvalue().encode("utf-8"))
    return path


def build(source: Path = DEFAULT_SOURCE) -> list[Path]:
    """Derive the subset files from the raw O*NET text files in `source`; returns the written paths."""
    TARGET.mkdir(parents=True, exist_ok=True)
    occ = _read(source, "Occupation Data.txt")
    zones = _read(source, "Job Zones.txt")[["O*NET-SOC Code", "Job Zone"]]
    occ = occ.merge(zones, on="O*NET-SOC Code", how="left").fillna({"Job Zone": ""})
    occ.columns = ["soc_code", "title", "description", "job_zone"]
    out = [_write(occ.sort_values("soc_code"), "occupations.tsv.gz")]

    frames = []
    for kind, name in (("skill", "Skills.tsv"), ("knowledge", "Knowledge.tsv")):
        df = _read(source, name)
        df = df[df["Scale ID"].isin(["IM", "LV"])]
        wide = df.pivot_table(
            index=["O*NET-SOC Code", "Element ID", "Element Name"],
            columns="Scale ID",
            values="Data Value",
            aggfunc="first",
        ).reset_index()
        # O*NET flags some LV estimates "Recommend Suppress" (too few raters / high error): keep the
        # importance, blank the level rather than ship a number O*NET itself says not to use.
        supp = df[(df["Scale ID"] == "LV") & (df["Recommend Suppress"] == "Y")]
        supp_keys = set(zip(supp["O*NET-SOC Code"], supp["Element ID"], strict=True))
        mask = [(s, e) in supp_keys for s, e in zip(wide["O*NET-SOC Code"], wide["Element ID"], strict=True)]
        wide.loc[mask, "LV"] = ""
        wide.insert(3, "kind", kind)
        frames.append(wide)
    ratings = pd.concat(frames, ignore_index=True)
    ratings.columns = ["soc_code", "element_id", "element_name", "kind", "im", "lv"]
    out.append(_write(ratings.sort_values(["soc_code", "element_id"]), "ratings.tsv.gz"))

    tech = _read(source, "Technology Skills.txt")
    tech = tech[(tech["Hot Technology"] == "Y") | (tech["In Demand"] == "Y")]
    keep = ["O*NET-SOC Code", "Example", "Commodity Code", "Commodity Title", "Hot Technology", "In Demand"]
    tech = tech[keep]
    tech.columns = ["soc_code", "example", "commodity_code", "commodity_title", "hot", "in_demand"]
    out.append(_write(tech.sort_values(["soc_code", "example", "commodity_code"]), "technology.tsv.gz"))

    titles = _read(source, "Sample of Reported Titles.txt")[["O*NET-SOC Code", "Reported Job Title"]]
    titles.columns = ["soc_code", "reported_title"]
    out.append(_write(titles.sort_values(["soc_code", "reported_title"]), "reported_titles.tsv.gz"))
    return out


if __name__ == "__main__":
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    for p in build(src):
        print(p, p.stat().st_size)
