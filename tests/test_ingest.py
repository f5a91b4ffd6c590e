"""Ingestion on a real PostgreSQL: exactly once, formats, schema evolution, PII and the analyst role."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg
import pytest

import ingestion
from core.database import PgParams
from ingestion import pii
from ingestion.contracts import all_sources, load_contract

pytestmark = pytest.mark.server  # on the embedded server and on the shared 15.x one

KEY = "test-pii-key"
D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
EV_HEADER = "event_id,user_id,event_type,item_type,item_id,occurred_at,duration_s,progress_pct,session_id"
RES_HEADER = ("resume_id,user_id,full_name,email,phone,headline,category,resume_text,skills,years_experience,"
              "education_level,location,region,gender,age_band,submitted_at")  # fmt: skip
HR_HEADER = ("employee_id,tenant_id,user_id,full_name,date_of_birth,gender,race,zip,state,region,department,"
             "job_role,job_level,onet_soc_code,manager_id,hire_date,termination_date,employment_status,"
             "monthly_income,snapshot_date")  # fmt: skip


def put(landing: Path, source: str, day: date | None, name: str, text: str) -> Path:
    folder = landing / source / day.isoformat() if day else landing / "reference" / source
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder / name


def events(ids: range, day: date = D1) -> str:
    rows = [f"e{i},u{i % 7},job_view,job,j{i},{day}T10:00:00Z,{i},,s{i}" for i in ids]
    return "\n".join([EV_HEADER, *rows]) + "\n"


def table(params: PgParams, sql: str) -> list[tuple]:
    with psycopg.connect(params.conninfo()) as conn:
        return conn.execute(sql).fetchall()


def test_contracts_match_raw_and_vault_tables(fresh_db):
    """Every contract's raw/vault columns exist with the load columns (the contract with dbt)."""
    cols = table(fresh_db, "select table_schema || '.' || table_name, column_name from information_schema.columns "  # noqa: E501
                           "where table_schema in ('raw', 'pii_vault')")  # fmt: skip
    have: dict[str, set[str]] = {}
    for t, c in cols:
        have.setdefault(t, set()).add(c)
    load = {"_file_id", "_line", "_partition_date", "_loaded_at", "_contract_version", "_extra"}
    for source in all_sources():
        c = load_contract(source)
        assert have[c.table] == set(c.raw_columns()) | load, source
        if c.vault_table:
            assert have[c.vault_table] == set(c.vault_key) | set(c.vault_columns()) | {"_file_id", "_line"}


def test_exactly_once_rerun_redelivery_and_correction(fresh_db, tmp_path):
    landing = tmp_path / "landing"
    put(landing, "interaction_events", D1, "a.csv", events(range(0, 100)))
    put(landing, "interaction_events", D2, "b.csv", events(range(100, 150), D2))
    assert {f.path for f in ingestion.pending_files(fresh_db, str(landing))} == {
        str(landing / "interaction_events" / D1.isoformat() / "a.csv"),
        str(landing / "interaction_events" / D2.isoformat() / "b.csv"),
    }
    first = ingestion.ingest_partition(fresh_db, "interaction_events", str(landing), D1, D2, KEY)
    assert (first.rows_read, first.rows_loaded, first.rows_quarantined) == (150, 150, 0) and first.balanced
    snapshot = table(fresh_db, "select event_id, user_key, occurred_at, _file_id, _line from raw.interaction_events "  # noqa: E501
                               "order by event_id")  # fmt: skip
    assert ingestion.pending_files(fresh_db, str(landing)) == []

    # re-run of the same partitions: nothing loads twice, raw is identical
    again = ingestion.ingest_partition(fresh_db, "interaction_events", str(landing), D1, D2, KEY)
    assert [f.status for f in again.files] == ["duplicate", "duplicate"] and again.rows_loaded == 0
    assert table(fresh_db, "select event_id, user_key, occurred_at, _file_id, _line from raw.interaction_events "  # noqa: E501
                           "order by event_id") == snapshot  # fmt: skip

    # the same bytes delivered again under a new name: a duplicate
    put(landing, "interaction_events", D1, "a-copy.csv", events(range(0, 100)))
    redelivered = ingestion.ingest_partition(fresh_db, "interaction_events", str(landing), D1, D1, KEY)
    assert {Path(f.path).name: f.status for f in redelivered.files} == {
        "a-copy.csv": "duplicate",
        "a.csv": "duplicate",
    }

    # a corrected file under the same path replaces the old version's rows (no double counting)
    put(landing, "interaction_events", D2, "b.csv", events(range(100, 140), D2))
    corrected = ingestion.ingest_partition(fresh_db, "interaction_events", str(landing), D2, D2, KEY)
    assert corrected.files[0].status == "loaded" and corrected.rows_loaded == 40
    assert table(fresh_db, "select count(*) from raw.interaction_events")[0][0] == 140
    assert ("replaced",) in table(fresh_db, "select status from ops.file_manifest")

    # ledger and metadata
    meta = corrected.to_metadata()
    assert meta["rows_loaded"] == 40 and meta["balanced"] == "true" and meta["contract_version"] == "1.0.0"
    assert all(isinstance(v, (int, float, str)) for v in meta.values())
    assert table(fresh_db, "select count(*) from ops.load_ledger")[0][0] == 7


def test_fast_path_loads_exactly_what_the_exact_path_loads(fresh_db, tmp_path, monkeypatch):
    from ingestion import loader

    landing = tmp_path / "landing"
    text = events(range(0, 3000)).replace(",,s", ",42.5,s", 500)  # some progress values too
    put(landing, "interaction_events", D1, "a.csv", text)
    cols = "event_id, user_key, event_type, item_type, item_id, occurred_at, duration_s, progress_pct, " \
        "session_id, _line, _partition_date, _contract_version, _extra"  # fmt: skip
    results = []
    for min_bytes in (0, 1 << 62):  # fast path first, then the exact path on the same bytes
        monkeypatch.setattr(loader, "FAST_PATH_MIN_BYTES", min_bytes)
        report = ingestion.ingest_partition(fresh_db, "interaction_events", str(landing), D1, D1, KEY)
        assert report.rows_loaded == 3000 and report.balanced
        rows = table(fresh_db, f"select {cols} from raw.interaction_events order by 1")
        ids = table(fresh_db, "select * from pii_vault.identifiers order by 2")
        results.append((report.timings, rows, ids))
        with psycopg.connect(fresh_db.conninfo()) as conn:
            conn.execute("truncate raw.interaction_events, pii_vault.identifiers, ops.load_ledger, "
                         "ops.quarantine, ops.schema_history, ops.file_manifest")  # fmt: skip
    (fast_steps, fast_rows, fast_ids), (exact_steps, exact_rows, exact_ids) = results
    assert "fast_path" in fast_steps and "fast_path" not in exact_steps
    assert fast_rows == exact_rows and fast_ids == exact_ids and len(fast_ids) == 7


def test_jsonl_and_parquet(fresh_db, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    landing = tmp_path / "landing"
    rows = [{"event_id": f"j{i}", "user_id": f"u{i}", "event_type": "module_progress", "item_type": "module",
             "item_id": "m1", "occurred_at": "2026-03-01T09:00:00Z", "duration_s": 60, "progress_pct": 12.5,
             "session_id": None} for i in range(3)]  # fmt: skip
    lines = [json.dumps(r) for r in rows] + [
        "{not json",
        json.dumps({**rows[0], "event_id": "j9", "progress_pct": "x"}),
    ]
    put(landing, "interaction_events", D1, "a.jsonl", "\n".join(lines) + "\n")
    table_pa = pa.Table.from_pylist([{**r, "event_id": "p" + r["event_id"]} for r in rows])
    folder = landing / "interaction_events" / D1.isoformat()
    pq.write_table(table_pa, folder / "b.parquet")
    report = ingestion.ingest_partition(fresh_db, "interaction_events", str(landing), D1, D1, KEY)
    by = {Path(f.path).name: f for f in report.files}
    assert (by["a.jsonl"].rows_read, by["a.jsonl"].rows_loaded, by["a.jsonl"].rows_quarantined) == (5, 3, 2)
    assert (by["b.parquet"].rows_loaded, by["b.parquet"].rows_quarantined) == (3, 0)
    q = table(fresh_db, "select line, rule from ops.quarantine order by line")
    assert q == [(4, "json_syntax"), (5, "type")]
    got = table(
        fresh_db, "select progress_pct, duration_s from raw.interaction_events where event_id = 'pj1'"
    )
    assert got == [(12.5, 60)] or float(got[0][0]) == 12.5


def test_pii_pseudonyms_redaction_vault_and_analyst_role(fresh_db, tmp_path):
    landing = tmp_path / "landing"
    resume = ('"Jane Q. Doe — reach me at jane.doe@mail.com or +1 (555) 123-4567, '
              'https://linkedin.com/in/janedoe, 12 Baker Street. Jane knows Python and SQL."')  # fmt: skip
    put(landing, "resumes", D1, "r.csv", "\n".join([
        RES_HEADER,
        f"r1,user-42,Jane Q. Doe,jane.doe@mail.com,+1 555 123 4567,Data analyst,IT,{resume},Python;SQL,3,BSc,"
        f"Berlin,DE,female,25-34,2026-02-28T08:00:00Z",
    ]) + "\n")  # fmt: skip
    put(landing, "hris_employees", D1, "h.csv", "\n".join([
        HR_HEADER,
        "E1,acme,user-42,Jane Q. Doe,1990-05-01,F,Asian,02134,MA,US-East,Sales,Analyst,2,13-2011.00,E9,"
        "2020-01-01,,active,5200,2026-03-01",
    ]) + "\n")  # fmt: skip
    r = ingestion.ingest_partition(fresh_db, "resumes", str(landing), D1, D1, KEY)
    h = ingestion.ingest_partition(fresh_db, "hris_employees", str(landing), D1, D1, KEY)
    assert r.rows_loaded == 1 and h.rows_loaded == 1, (r.files, h.files)
    assert r.pii_columns["email"] == "direct" and h.pii_columns["date_of_birth"] == "direct"

    user_key = pii.pseudonym("user-42", KEY)
    text, key = table(fresh_db, "select resume_text, user_key from raw.resumes")[0]
    assert key == user_key  # the SQL HMAC equals Python's hmac
    for leak in ("jane.doe@mail.com", "555", "linkedin.com/in/janedoe", "Jane", "Doe", "Baker Street"):
        assert leak not in text, (leak, text)
    assert "Python and SQL" in text and "[EMAIL]" in text and "[NAME]" in text
    hr = table(fresh_db, "select employee_key, user_key, manager_key, age_band from raw.hris_employees")[0]
    assert hr == (pii.pseudonym("E1", KEY), user_key, pii.pseudonym("E9", KEY), "35-44")
    vault = table(fresh_db, "select full_name, date_of_birth::text, zip from pii_vault.hris_employees")[0]
    assert vault == ("Jane Q. Doe", "1990-05-01", "02134")
    assert ("user", user_key, "user-42") in table(
        fresh_db, "select kind, pseudonym, original from pii_vault.identifiers"
    )

    # the analyst role: a real login reads raw and ops, and is refused the vault
    analyst = PgParams(fresh_db.host, fresh_db.port, "kairoo_analyst", "", fresh_db.dbname)
    with psycopg.connect(analyst.conninfo()) as conn:
        assert conn.execute("select count(*) from raw.resumes").fetchone()[0] == 1
        assert conn.execute("select count(*) from ops.file_manifest").fetchone()[0] == 2
    for vault_table in ("pii_vault.resumes", "pii_vault.hris_employees", "pii_vault.identifiers"):
        with psycopg.connect(analyst.conninfo()) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"select * from {vault_table}")


def test_redaction_patterns_in_sql_and_python(fresh_db):
    cases = {
        "mail a.b@c.io now": "mail [EMAIL] now",
        "call 09800000001 today": "call [PHONE] today",
        "see www.example.org/x": "see [URL]",
        "worked 2015-2018 at Acme": "worked 2015-2018 at Acme",  # year ranges are not phone numbers
    }
    with psycopg.connect(fresh_db.conninfo()) as conn:
        for raw, want in cases.items():
            assert conn.execute("select ops.redact_pii(%s)", (raw,)).fetchone()[0] == want
            assert pii.redact_python(raw) == want
        assert conn.execute("select ops.redact_pii('Anna Smith met ANNA', 'Smith, Anna')").fetchone()[0] == (
            "[NAME] [NAME] met [NAME]"
        )
        assert (
            conn.execute("select ops.redact_pii('lives at 12 Baker Street.')").fetchone()[0]
            == "lives at [ADDRESS]"
        )


def test_reference_snapshots_latest_wins_and_onet(fresh_db, tmp_path):
    landing = tmp_path / "landing"
    header = "module_id,title,provider,skills,level,duration_hours"
    put(landing, "learning_modules", None, "2026-02-01.csv", f"{header}\nm1,Old,X,SQL,beginner,2\n")
    put(landing, "learning_modules", None, "2026-03-01.csv",
        f"{header}\nm1,SQL basics,X,SQL,beginner,2\nm2,Python,Y,Python,expert,3\nm3,Stats,Y,,advanced,4\n")  # fmt: skip  # noqa: E501
    reports = {r.source: r for r in ingestion.ingest_reference(fresh_db, str(landing), KEY)}
    lm = reports["learning_modules"]
    assert (lm.rows_read, lm.rows_loaded, lm.rows_quarantined) == (3, 2, 1)
    assert table(fresh_db, "select module_id, title from raw.learning_modules order by 1") == [
        ("m1", "SQL basics"),
        ("m3", "Stats"),
    ]
    assert reports["onet_occupations"].rows_loaded > 900 and reports["onet_skills"].rows_loaded > 10_000
    assert reports["onet_skills"].balanced and reports["onet_skills"].rows_quarantined == 0
    again = {r.source: r for r in ingestion.ingest_reference(fresh_db, str(landing), KEY)}
    assert all(f.status == "duplicate" for r in again.values() for f in r.files)
    assert table(fresh_db, "select count(*) from raw.learning_modules")[0][0] == 2


def test_column_classification_by_name_and_values():
    assert pii.classify_column("contact_email", ["a@b.co", "c@d.org"]) == "direct"
    assert pii.classify_column("notes", ["x@y.com is mine"] * 3) == "direct"
    assert pii.classify_column("col7", ["+44 20 7946 0958", "020 7946 0959"]) == "direct"
    assert pii.classify_column("Employee_Name", ["Adinolfi, Wilson  K"]) == "direct"
    assert pii.classify_column("RaceDesc", ["White"]) == "sensitive"
    assert pii.classify_column("Zip", ["1960"]) == "quasi"
    assert pii.classify_column("channel", ["web", "app"]) == "none"
    assert pii.classify_column("anything", ["a@b.co"], declared="none") == "none"  # the contract decides
    assert pii.pseudonym(" u1 ", "k") == pii.pseudonym("u1", "k") and len(pii.pseudonym("u1", "k")) == 32
