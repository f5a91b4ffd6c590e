"""Fault suite: every kind of bad delivery ends in a clear error or a quarantine, the ledger balances,
the night goes on and no row is lost (each written event id is in raw or in the quarantine vault)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import pytest

import ingestion
from ingestion import loader

pytestmark = pytest.mark.server  # on the embedded server and on the shared 15.x one

DAY = date(2026, 3, 1)
HEADER = "event_id,user_id,event_type,item_type,item_id,occurred_at,duration_s,progress_pct,session_id"


def ev(i: int, **over: str) -> str:
    row = {
        "event_id": f"e{i}", "user_id": f"u{i % 5}", "event_type": "job_view", "item_type": "job",
        "item_id": f"j{i}", "occurred_at": "2026-03-01T10:00:00Z", "duration_s": "5", "progress_pct": "",
        "session_id": f"s{i}",
    }  # fmt: skip
    row.update(over)
    return ",".join(row.values())


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("fast_path", [False, True], ids=["exact_path", "fast_path_first"])
def test_fault_suite(fresh_db, tmp_path, monkeypatch, fast_path):
    """With the fast path tried first (every file size), the outcome must be the same to the row."""
    monkeypatch.setattr(loader, "FAST_PATH_MIN_BYTES", 0 if fast_path else 1 << 62)
    landing = tmp_path / "landing"
    day = landing / "interaction_events" / DAY.isoformat()
    good = "\n".join([HEADER, *(ev(i) for i in range(1, 6))]) + "\n"
    files = {
        "01_good.csv": good,
        "02_broken_quoting.csv": "\n".join(
            [HEADER, ev(10), 'e11,u1,job_view,job,"j11,2026-03-01T10:00:00Z,5,,s', ev(12), ev(13)]
        )
        + "\n",
        "03_wrong_encoding.csv": ("\n".join([HEADER, ev(20), ev(21, item_id="caf\xe9")]) + "\n").encode(
            "latin-1"
        ),
        "04_missing_required_column.csv": "event_id,user_id,event_type,item_type,item_id\ne30,u1,job_view,job,j1\n",  # noqa: E501
        "05_extra_columns.csv": "\n".join(
            [
                HEADER + ",channel,contact_email",
                *(ev(i) + f",web,person{i}@example.com" for i in range(40, 45)),
            ]
        )
        + "\n",
        "06_type_errors.csv": "\n".join(
            [HEADER, ev(50, duration_s="abc"), ev(51, progress_pct="lots"), ev(52)]
        )
        + "\n",
        "07_duplicates_within.csv": "\n".join([HEADER, ev(60), ev(60), ev(61)]) + "\n",
        "08_duplicates_across.csv": "\n".join([HEADER, ev(1), ev(70)]) + "\n",  # e1 is in 01_good
        "09_empty.csv": "",
        "10_truncated.csv": "\n".join([HEADER, ev(80), ev(81), "e82,u2,job_vi"]),
        "10b_truncated_fits.csv": "\n".join([HEADER, ev(85), ev(86)])[:-3],  # cut inside the last field
        "11_future.csv": "\n".join([HEADER, ev(90, occurred_at="2999-01-01T00:00:00Z"), ev(91)]) + "\n",
        "12_huge_field.csv": "\n".join([HEADER, ev(100, session_id="x" * 2_000_000), ev(101)]) + "\n",
        "13_unparsable_timestamp.csv": "\n".join(
            [HEADER, ev(110, occurred_at="yesterday-ish"), ev(111), ev(112, occurred_at="yesterday")]
        )
        + "\n",
        "14_bad_enum_and_missing_value.csv": "\n".join(
            [HEADER, ev(120, event_type="job_like"), ev(121, user_id=""), ev(122)]
        )
        + "\n",
        "15_incompatible_type.csv": "\n".join([HEADER, *(ev(i, duration_s="long") for i in range(130, 145))])
        + "\n",
        "16_redelivered.csv": good,  # the same bytes as 01 under another name
        "17_header_only.csv": HEADER + "\n",
    }
    for name, text in files.items():
        write(day, name, text)

    report = ingestion.ingest_partition(fresh_db, "interaction_events", str(landing), DAY, DAY, "test-key")
    by = {Path(f.path).name: f for f in report.files}
    assert set(by) == set(files)
    assert report.balanced, [(n, f.rows_read, f.rows_loaded, f.rows_quarantined) for n, f in by.items()]

    with psycopg.connect(fresh_db.conninfo()) as conn:

        def rules(name: str) -> list[tuple]:
            return conn.execute(
                "select q.line, q.rule, q.column_name, q.message from ops.quarantine q "
                "where q.path like %s order by q.line nulls first",
                (f"%{name}",),
            ).fetchall()

        assert by["01_good.csv"].status == "loaded" and by["01_good.csv"].rows_loaded == 5
        # broken quoting: COPY refuses the file, the tolerant reader keeps everything; no row lost below
        assert by["02_broken_quoting.csv"].status == "loaded"
        assert by["02_broken_quoting.csv"].rows_quarantined >= 1
        assert any(r[1] in ("field_count", "csv_syntax") for r in rules("02_broken_quoting.csv"))
        # wrong encoding: the undecodable row is quarantined with its line, the other row loads
        enc = rules("03_wrong_encoding.csv")
        assert [(r[0], r[1]) for r in enc] == [(3, "encoding")], enc
        assert by["03_wrong_encoding.csv"].rows_loaded == 1
        # missing required column: the file is rejected with file, column and rule, and kept
        rej = by["04_missing_required_column.csv"]
        assert rej.status == "rejected" and "04_missing_required_column.csv" in rej.error
        assert "occurred_at" in rej.error and "missing_required_column" in rej.error
        assert (
            landing
            / "_quarantine"
            / "interaction_events"
            / DAY.isoformat()
            / "04_missing_required_column.csv"
        ).exists()
        assert rej.rows_read == rej.rows_quarantined == 1
        # extra columns: accepted; the harmless one in _extra, the e-mail one only in the vault
        assert by["05_extra_columns.csv"].rows_loaded == 5
        extra = conn.execute("select _extra from raw.interaction_events where event_id = 'e40'").fetchone()[0]
        assert extra == {"channel": "web"}
        hist = dict(
            conn.execute(
                "select column_name, pii_class from ops.schema_history where change = 'added_column'"
            )
        )
        assert hist == {"channel": "none", "contact_email": "direct"}
        assert (
            conn.execute("select count(*) from pii_vault.extras where payload ? 'contact_email'").fetchone()[
                0
            ]
            == 5
        )
        assert report.pii_columns["contact_email"] == "direct"
        # type errors
        assert {(r[1], r[2]) for r in rules("06_type_errors.csv")} == {
            ("type", "duration_s"),
            ("type", "progress_pct"),
        }
        # duplicates within a file and across files
        dup_in = rules("07_duplicates_within.csv")
        assert [(r[0], r[1]) for r in dup_in] == [(3, "duplicate_key")] and "of line 2" in dup_in[0][3]
        dup_across = rules("08_duplicates_across.csv")
        assert [(r[0], r[1]) for r in dup_across] == [
            (2, "duplicate_key")
        ] and "already loaded" in dup_across[0][3]
        # empty and header-only files
        assert by["09_empty.csv"].status == "empty" and by["09_empty.csv"].rows_read == 0
        assert by["17_header_only.csv"].status == "empty" and by["17_header_only.csv"].rows_read == 0
        # truncated last line
        assert [(r[0], r[1]) for r in rules("10_truncated.csv")] == [(4, "field_count")]
        assert by["10_truncated.csv"].rows_loaded == 2
        assert [(r[0], r[1]) for r in rules("10b_truncated_fits.csv")] == [(3, "truncated")]
        assert [(r[0], r[1]) for r in rules("11_future.csv")] == [(2, "future_timestamp")]
        huge = rules("12_huge_field.csv")
        assert [(r[1], r[2]) for r in huge] == [("max_length", "session_id")]
        assert by["12_huge_field.csv"].rows_loaded == 1
        assert [(r[0], r[1], r[2]) for r in rules("13_unparsable_timestamp.csv")] == [
            (2, "timestamp_unparsable", "occurred_at"),
            (4, "timestamp_unparsable", "occurred_at"),  # 'yesterday' is valid to PostgreSQL, not to us
        ]
        assert {(r[1], r[2]) for r in rules("14_bad_enum_and_missing_value.csv")} == {
            ("enum", "event_type"),
            ("missing_required", "user_id"),
        }
        inc = by["15_incompatible_type.csv"]
        assert inc.status == "rejected" and "incompatible_type" in inc.error and "duration_s" in inc.error
        assert by["16_redelivered.csv"].status == "duplicate" and by["16_redelivered.csv"].rows_read == 0

        # every message names file, line and rule
        for path, line, rule, message in conn.execute("select path, line, rule, message from ops.quarantine"):
            assert Path(path).name in message and f"rule: {rule}" in message
            assert line is None or f"line {line}" in message

        # ledger balances (also enforced by a check constraint) and matches the manifest
        bad = conn.execute(
            "select count(*) from ops.file_manifest where rows_read <> rows_loaded + rows_quarantined"
        ).fetchone()[0]
        assert bad == 0
        # no row lost: every event id written is in raw, or in the original text of a quarantined row/file
        written = {
            line.split(",", 1)[0]
            for name, text in files.items()
            if not name.startswith(("04", "15", "16"))  # rejected / duplicate files are kept whole
            for line in (text.decode("latin-1") if isinstance(text, bytes) else text).splitlines()[1:]
        }
        loaded = {r[0] for r in conn.execute("select event_id from raw.interaction_events")}
        vaulted = " ".join(r[0] for r in conn.execute("select raw_text from pii_vault.quarantine_raw"))
        lost = {e for e in written if e not in loaded and f'"{e}"' not in vaulted and f"{e}," not in vaulted}
        assert not lost, lost
