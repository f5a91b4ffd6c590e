"""Never a silent loss: only a rule about a file's content rejects it; every other failure is loud.

Each test here is a way data went missing without anyone noticing (issue #10): a database error read as
a rejection, an outcome nobody recorded reported as balanced, two exports landing under one name, a
repeated header loaded as data, a header-only file crashing a mapping, an encoding error naming nothing.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

import ingestion
from ingestion.mappings import MappingError, land_mapped

pytestmark = pytest.mark.server
DAY = date(2026, 3, 1)
KEY = "loss-test-key"
EV = "event_id,user_id,event_type,item_type,item_id,occurred_at,duration_s,progress_pct,session_id"


def events(ids, day: date = DAY) -> str:
    return "\n".join([EV, *(f"e{i},u{i % 3},job_view,job,j{i},{day}T10:00:00Z,5,,s{i}" for i in ids)]) + "\n"


def put(landing: Path, name: str, text: str | bytes, source: str = "interaction_events") -> Path:
    folder = landing / source / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    return folder / name


def q(params, sql: str, *args) -> list[tuple]:
    with psycopg.connect(params.conninfo()) as conn:
        return conn.execute(sql, args).fetchall()


def test_database_error_during_a_load_reaches_the_retry_not_the_quarantine(fresh_db, tmp_path):
    """A lock timeout (the server is busy: transient) propagates as psycopg.OperationalError."""
    put(tmp_path, "a.csv", events(range(5)))
    with psycopg.connect(fresh_db.conninfo("postgres"), autocommit=True) as admin:
        admin.execute(f"alter database \"{fresh_db.dbname}\" set lock_timeout = '300ms'")
    holder = psycopg.connect(fresh_db.conninfo())
    holder.execute("lock table raw.interaction_events in access exclusive mode")
    try:
        with pytest.raises(psycopg.OperationalError) as err:
            ingestion.ingest_partition(fresh_db, "interaction_events", str(tmp_path), DAY, DAY, KEY)
        assert any("a.csv" in note for note in getattr(err.value, "__notes__", []))
    finally:
        holder.rollback()
        holder.close()
    assert q(fresh_db, "select count(*) from ops.quarantine") == [(0,)]  # not a content problem
    # the retry, once the server is free again, loads the file
    again = ingestion.ingest_partition(fresh_db, "interaction_events", str(tmp_path), DAY, DAY, KEY)
    assert again.rows_loaded == 5 and again.balanced


def test_an_outcome_that_cannot_be_recorded_fails_naming_the_file(fresh_db, tmp_path):
    put(tmp_path, "a.csv", events(range(5)))
    with psycopg.connect(fresh_db.conninfo()) as conn:  # the ledger refuses writes (a real DB error)
        conn.execute(
            "create function ops.refuse() returns trigger language plpgsql as "
            "$$ begin raise exception 'ledger is read-only'; end $$"
        )
        conn.execute("create trigger refuse before insert on ops.load_ledger execute function ops.refuse()")
    with pytest.raises(ingestion.RecordingError, match=r"a\.csv.*could not be recorded.*read-only"):
        ingestion.ingest_partition(fresh_db, "interaction_events", str(tmp_path), DAY, DAY, KEY)
    assert q(fresh_db, "select count(*) from raw.interaction_events") == [(0,)]  # and nothing half-loaded


def test_balanced_is_read_back_from_the_ledger(fresh_db, tmp_path):
    put(tmp_path, "a.csv", events(range(5)))
    report = ingestion.ingest_partition(fresh_db, "interaction_events", str(tmp_path), DAY, DAY, KEY)
    assert report.balanced and all(f.recorded and f.ledger_id for f in report.files)
    unrecorded = ingestion.FileReport(path="x.csv", status="loaded")  # counts 0 = 0 + 0, never recorded
    report.files.append(unrecorded)
    assert not report.balanced


def test_two_exports_for_one_source_and_day_both_load(fresh_db, tmp_path):
    header = "Category,Resume\n"
    one = tmp_path / "exports" / "march.csv"
    two = tmp_path / "exports" / "april" / "march.csv"  # same file name, another folder
    two.parent.mkdir(parents=True)
    one.write_text(header + "Data Science,Python and SQL for analytics\n")
    two.write_text(header + "HR,Recruiting and onboarding for twelve years\n")
    landing = str(tmp_path / "landing")
    paths = {land_mapped("kaggle_resumes", p, landing, DAY) for p in (one, two)}
    assert len(paths) == 2
    report = ingestion.ingest_partition(fresh_db, "resumes", landing, DAY, DAY, KEY)
    assert [f.status for f in report.files] == ["loaded", "loaded"] and report.rows_loaded == 2
    assert q(fresh_db, "select count(*) from ops.file_manifest where status = 'replaced'") == [(0,)]


def test_repeated_header_is_quarantined_under_its_own_rule(fresh_db, tmp_path):
    put(tmp_path, "a.csv", events(range(3)) + events(range(3, 5)))  # two exports concatenated
    src = tmp_path / "exports" / "resumes.csv"
    src.parent.mkdir()
    src.write_text("Category,Resume\nIT,Python\nCategory,Resume\nHR,Payroll\n")
    land_mapped("kaggle_resumes", src, str(tmp_path), DAY)
    ev = ingestion.ingest_partition(fresh_db, "interaction_events", str(tmp_path), DAY, DAY, KEY)
    res = ingestion.ingest_partition(fresh_db, "resumes", str(tmp_path), DAY, DAY, KEY)
    assert (ev.rows_loaded, ev.rows_quarantined, res.rows_loaded, res.rows_quarantined) == (5, 1, 2, 1)
    assert q(fresh_db, "select source, line, rule from ops.quarantine order by source") == [
        ("interaction_events", 5, "repeated_header"),
        ("resumes", 3, "repeated_header"),
    ]
    assert q(fresh_db, "select count(*) from raw.resumes where category = 'Category'") == [(0,)]


def test_header_only_files_are_empty_direct_and_through_a_mapping(fresh_db, tmp_path):
    put(tmp_path, "a.csv", EV + "\n")
    src = tmp_path / "exports" / "resumes.csv"
    src.parent.mkdir()
    src.write_text("Category,Resume\n")
    land_mapped("kaggle_resumes", src, str(tmp_path), DAY)  # derived columns: hash, skills
    for source in ("interaction_events", "resumes"):
        report = ingestion.ingest_partition(fresh_db, source, str(tmp_path), DAY, DAY, KEY)
        assert [f.status for f in report.files] == ["empty"] and report.balanced, source


def test_encoding_errors_name_the_file_line_and_the_option(fresh_db, tmp_path):
    text = "Category,Resume\nIT,Python\nHR,Caf\xe9 owner\n".encode("latin-1")
    src = tmp_path / "exports" / "latin1.csv"
    src.parent.mkdir()
    src.write_bytes(text)
    with pytest.raises(MappingError) as err:
        land_mapped("kaggle_resumes", src, str(tmp_path / "landing"), DAY)
    message = str(err.value)
    assert "latin1.csv: line 3: byte 0xe9" in message and "read: {encoding: cp1252}" in message
    # straight into landing: the row is quarantined, and the message says what the file probably is
    put(tmp_path, "a.csv", (EV + "\ne1,u1,job_view,job,j\xe9,2026-03-01T10:00:00Z,5,,s1\n").encode("latin-1"))
    ingestion.ingest_partition(fresh_db, "interaction_events", str(tmp_path), DAY, DAY, KEY)
    [(rule, msg)] = q(fresh_db, "select rule, message from ops.quarantine")
    assert rule == "encoding" and "a.csv: line 2" in msg and "0xe9" in msg and "encoding: cp1252" in msg
