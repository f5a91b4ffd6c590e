"""Personal data in free text and in the quarantine: what a data team's own exports carry.

Each test is a leak found in issue #10: names in resume text without a name column, scheme-less profile
links with their ids, a phone number in a column declared `pii: none`, an HRIS row the reader could not
split stored readable in ops.quarantine. The last test reads every table kairoo_analyst may read.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

import ingestion
from core.database import PgParams
from ingestion.mappings import land_mapped
from ingestion.redact import find_pii, redact

DAY = date(2026, 3, 1)
KEY = "pii-test-key"


def kinds(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for s in find_pii(text):
        out.setdefault(s.kind, []).append(text[s.start : s.end])
    return out


def test_names_without_a_name_column():
    top = "Ngozi Okafor\nngozi.o@example.com | +44 20 7946 0958\n\nSkills: Python, SQL. Ngozi led the team."
    assert redact(top) == "[NAME]\n[EMAIL] | [PHONE]\n\nSkills: Python, SQL. [NAME] led the team."
    field = "Education Details\nName: Tariq Al-Hassan\nB.E. Mechanical, Pune University"
    assert kinds(field)["name"] == ["Tariq Al-Hassan"]
    signed = "I build ETL pipelines.\r\n\r\nThanks and regards,\r\nKwame Mensah\r\n"
    assert kinds(signed)["name"] == ["Kwame Mensah"]
    declared = "DECLARATION\nI, Priya Raman, hereby declare the above is true.\n(Priya Raman)"
    assert kinds(declared)["name"] == ["Priya Raman", "Priya Raman"]
    # a name-like pair anywhere is checked against the lexicon: a person, not a product or a college
    prose = "Worked with Linda Carter on Spring Boot services at Sophia College; Dot Net and Java."
    assert kinds(prose) == {"name": ["Linda Carter"]}


def test_profile_links_with_or_without_scheme_keep_no_id():
    text = ("Indeed: indeed.com/r/Raj-Patel/3f9a1b2c4d5e6f70 | linkedin.com/in/raj-patel-4a1b2c "
            "| https://github.com/rajp | www.linkedin.com/in/rp88")  # fmt: skip
    assert redact(text) == "Indeed: [URL] | [URL] | [URL] | [URL]"


def test_phones_and_addresses_without_crossing_lines():
    text = "Call +91 98765 43210 or (415) 555-0134.\n12 Baker Street, Springfield, IL 62704\nWorked 2015-2018"
    assert redact(text) == "Call [PHONE] or [PHONE].\n[ADDRESS]\nWorked 2015-2018"
    two_lines = "Unit 12\nMaple Street"  # never joined across the line break
    assert "address" not in kinds(two_lines)


def _analyst_readable_text(params: PgParams) -> str:
    """Every row of every table and view kairoo_analyst may select, as one text."""
    analyst = PgParams(params.host, params.port, "kairoo_analyst", "", params.dbname)
    with psycopg.connect(analyst.conninfo()) as conn:
        tables = conn.execute(
            "select quote_ident(table_schema) || '.' || quote_ident(table_name) "
            "from information_schema.tables "
            "where table_schema not in ('pg_catalog', 'information_schema') "
            "and has_table_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name), 'select')"
        ).fetchall()
        assert any(t == "ops.quarantine" for (t,) in tables) and not any(
            t.startswith("pii_vault") for (t,) in tables
        )
        return "\n".join(str(r[0]) for (t,) in tables for r in conn.execute(f"select t::text from {t} t"))


@pytest.mark.server
def test_no_analyst_readable_table_holds_a_personal_value(fresh_db, tmp_path):
    landing = tmp_path / "landing"
    # resumes through a mapping without any name column (Kaggle-shaped), identities placed in the text
    src = tmp_path / "exports" / "resumes.csv"
    src.parent.mkdir()
    resume = (
        "Ngozi Okafor\r\nngozi.okafor@example.org | +1 (415) 555-0188\r\n742 Evergreen Terrace, Springfield, "
        "IL 62704\r\nindeed.com/r/Ngozi-Okafor/9c0ffee1234abcd5\r\n\r\nSkills Python SQL\r\nRegards,\r\n"
        "Ngozi Okafor"
    )
    src.write_text(f'Category,Resume\nData Science,"{resume}"\n')
    land_mapped("kaggle_resumes", src, str(landing), DAY)
    # a resume delivered in contract shape with a phone number in its headline (declared pii: none)
    folder = landing / "resumes" / DAY.isoformat()
    (folder / "direct.csv").write_text(
        "resume_id,user_id,headline,resume_text,submitted_at\n"
        "r9,u9,Analyst - call 415 555 0199,Hello there,2026-02-28T08:00:00Z\n"
    )
    # an HRIS export with an extra unquoted field in one row: the reader cannot split it into columns
    hr = landing / "hris_employees" / DAY.isoformat()
    hr.mkdir(parents=True)
    (hr / "h.csv").write_text(
        "employee_id,tenant_id,full_name,date_of_birth,race,zip,snapshot_date\n"
        "E1,acme,Wilhelmina Quartermaine,1990-05-01,Pacific Islander,02134,2026-03-01\n"
        "E2,acme,Bartholomew Fairweather,1985-11-23,Pacific Islander,02139,extra,2026-03-01\n"
    )
    res = ingestion.ingest_partition(fresh_db, "resumes", str(landing), DAY, DAY, KEY)
    hris = ingestion.ingest_partition(fresh_db, "hris_employees", str(landing), DAY, DAY, KEY)
    assert res.rows_loaded == 2 and hris.rows_loaded == 1 and hris.rows_quarantined == 1, (
        res.files,
        hris.files,
    )
    text = _analyst_readable_text(fresh_db)
    for value in ("Ngozi", "Okafor", "ngozi.okafor", "555-0188", "Evergreen", "9c0ffee1234abcd5", "555 0199",
                  "Wilhelmina", "Quartermaine", "Bartholomew", "Fairweather", "1990-05-01", "1985-11-23",
                  "02134", "02139", "Pacific Islander"):  # fmt: skip
        assert value not in text, value
    assert "Skills Python SQL" in text and "Analyst - call [PHONE]" in text  # the rest stays readable
    with psycopg.connect(fresh_db.conninfo()) as conn:  # the originals are kept, in the vault only
        vault = conn.execute("select raw_text from pii_vault.quarantine_raw").fetchone()[0]
    assert "Bartholomew Fairweather" in vault


def test_labelled_set_recall_and_removed_share():
    """The redactor on the real resume texts with seeded identities (the bench runs the full set)."""
    from benchmarks import pii_eval

    if not pii_eval.RESUMES.exists():
        pytest.skip(f"real public data not available here: {pii_eval.RESUMES}")
    result = pii_eval.evaluate(pii_eval.real_documents()[:120])
    assert all(r is not None and r >= 0.95 for r in result["recall"].values()), result
    assert result["removed_non_pii_share"] <= 0.02, result


def test_headers_do_not_become_names(tmp_path: Path):
    assert "name" not in kinds("Skill Details\nJava Developer\nCompany Details\ncompany - Infosys")
