"""The public files in ../shared/data, mapped onto the contracts and ingested end to end.

Asserts the accounting (read = loaded + quarantined, with the known duplicates in quarantine) and the
PII outcome (no HRDataset name or birth date reaches raw; the originals are in the vault).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import psycopg
import pytest

import ingestion
from ingestion.mappings import fix_mojibake, land_mapped, us_date
from tests.conftest import shared_data

# Not in `make test-fast`: whole real public files through ingestion.
pytestmark = [pytest.mark.real_data, pytest.mark.slow]
DAY = date(2026, 1, 5)
KEY = "real-data-test-key"


def test_mapping_helpers():
    assert fix_mojibake("NaÃ¯ve Bayes") == "Naïve Bayes"
    assert fix_mojibake("plain text") == "plain text"
    assert us_date("09/19/88") == "1988-09-19" and us_date("3/30/2015") == "2015-03-30"
    assert us_date("01/01/55") == "1955-01-01"  # two-digit years never land in the future


def test_real_files_end_to_end(fresh_db, tmp_path):
    files = {
        "kaggle_resumes": shared_data("resumes", "UpdatedResumeDataSet.csv"),
        "google_job_skills": shared_data("job_postings", "job_skills.csv"),
        "hr_dataset_v14": shared_data("hris", "HRDataset_v14.csv"),
        "ibm_hr_attrition": shared_data("hris", "WA_Fn-UseC_-HR-Employee-Attrition.csv"),
        "coursera_catalogue": shared_data("courses", "Coursera.csv"),
        "oulad_vle": shared_data("interactions", "oulad", "studentVle_head.csv"),
        "oulad_registration": shared_data("interactions", "oulad", "studentRegistration.csv"),
        "oulad_results": shared_data("interactions", "oulad", "studentInfo.csv"),
    }
    landing = str(tmp_path / "landing")
    for name, path in files.items():
        land_mapped(name, path, landing, DAY)

    reports = {
        s: ingestion.ingest_partition(fresh_db, s, landing, DAY, DAY, KEY)
        for s in ingestion.PARTITIONED_SOURCES
    }
    reports.update({r.source: r for r in ingestion.ingest_reference(fresh_db, landing, KEY)})
    for source, r in reports.items():
        assert r.balanced, source
        assert all(f.status == "loaded" for f in r.files), (
            source,
            [(f.path, f.status, f.error) for f in r.files],
        )

    def rows(name: str) -> int:
        return len(pd.read_csv(files[name], dtype=str, keep_default_na=False, encoding="utf-8-sig"))

    with psycopg.connect(fresh_db.conninfo()) as conn:

        def q(sql: str, *args):
            return conn.execute(sql, args).fetchall()

        def by_rule(path_like: str) -> dict[str, int]:
            return dict(
                q("select rule, count(*) from ops.quarantine where path like %s group by rule", path_like)
            )

        # resumes: 962 rows, 166 distinct (category, text): the rest are duplicate keys
        res = reports["resumes"]
        assert res.rows_read == rows("kaggle_resumes") == 962
        distinct = len(pd.read_csv(files["kaggle_resumes"], dtype=str).drop_duplicates())
        assert res.rows_loaded == distinct and by_rule("%kaggle_resumes%") == {
            "duplicate_key": 962 - distinct
        }
        assert (
            q("select count(*) from raw.resumes where resume_text like '%%Ã¯%%'")[0][0] == 0
        )  # mojibake repaired
        assert q("select count(*) from raw.resumes where skills like '%%Python%%'")[0][0] > 10
        assert (
            q("select count(*) from raw.resumes where resume_text like '%%applicant.one@example.com%%'")[0][0]
            == 0
        )
        assert (
            q(
                "select count(*) from pii_vault.resumes where resume_text like '%%applicant.one@example.com%%'"  # noqa: E501
            )[0][0]
            > 0
        )

        # job postings: 1,250 rows, the fully duplicated ones quarantined as duplicate keys
        jobs = reports["job_postings"]
        assert jobs.rows_read == rows("google_job_skills") == 1250
        # 123 full duplicates (SOURCE.md) and one posting without a title (data row 2)
        assert by_rule("%google_job_skills%") == {"duplicate_key": 123, "missing_required": 1}
        assert q("select line, column_name from ops.quarantine where rule = 'missing_required'") == [
            (3, "title")
        ]
        assert q("select count(*) from raw.job_postings where required_skills <> ''")[0][0] > 1000

        # HRIS: both files load; HRDataset's names and birth dates never reach raw
        hr = {f.path.rsplit("/", 1)[-1].split("__")[0] + ".csv": f for f in reports["hris_employees"].files}
        assert hr["hr_dataset_v14.csv"].rows_read == 311 and hr["ibm_hr_attrition.csv"].rows_read == 1470
        assert reports["hris_employees"].rows_quarantined == 0
        src = pd.read_csv(files["hr_dataset_v14"], dtype=str, encoding="utf-8-sig")
        raw_text = " ".join(
            str(v) for row in q("select r::text from raw.hris_employees r") for v in row
        )  # every column of every raw row, _extra included
        for name in src["Employee_Name"]:
            last = name.split(",")[0].strip()
            assert last not in raw_text, last
        for dob in src["DOB"].map(us_date):
            assert dob not in raw_text
        for emp in src["EmpID"]:
            assert f'"{emp}"' not in raw_text and f",{emp}," not in raw_text
        assert (
            q("select count(*) from pii_vault.hris_employees where full_name like 'Corleone, Vito%%'")[0][0]
            == 1
        )
        assert (
            q("select count(distinct age_band) from raw.hris_employees where tenant_id = 'hrdataset'")[0][0]
            >= 3
        )
        assert (
            q(
                "select count(*) from raw.hris_employees where tenant_id = 'ibm-attrition' and age_band is null"  # noqa: E501
            )[0][0]
            == 0
        )
        assert reports["hris_employees"].pii_columns["full_name"] == "direct"

        # OULAD: clicks, registrations ('?' days quarantined as unparsable) and completions
        ev = {
            f.path.rsplit("/", 1)[-1].split("__")[0] + ".csv": f for f in reports["interaction_events"].files
        }
        assert (
            ev["oulad_vle.csv"].rows_read == rows("oulad_vle") and ev["oulad_vle.csv"].rows_quarantined == 0
        )
        reg = ev["oulad_registration.csv"]
        unknown_day = int(
            (pd.read_csv(files["oulad_registration"], dtype=str)["date_registration"] == "?").sum()
        )
        assert reg.rows_read == rows("oulad_registration") and reg.rows_quarantined == unknown_day
        assert by_rule("%oulad_registration%") == {"timestamp_unparsable": unknown_day}
        info = pd.read_csv(files["oulad_results"], dtype=str)
        assert ev["oulad_results.csv"].rows_loaded == int(
            info["final_result"].isin(["Pass", "Distinction"]).sum()
        )

        # Coursera: duplicates quarantined, stray levels loaded as null
        lm = reports["learning_modules"]
        assert (
            lm.rows_read == 1139 and lm.rows_quarantined == by_rule("%coursera%").get("duplicate_key", 0) > 0
        )
        assert q("select count(*) from raw.learning_modules where level is null")[0][0] > 0
        assert reports["onet_occupations"].rows_loaded == 1016
