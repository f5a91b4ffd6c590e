"""Bring your own file: real exports through a team's own mapping, as the guide in ingestion/README.md.

Formats (CSV, JSON array or records, JSON Lines, Parquet), mapping folders from the settings, regex and
split transforms, file-wide NA markers, a history landing one partition per day, far-off events
reported, the command line with its dry run, and errors naming the user's file and physical line.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import psycopg
import pytest

import ingestion
from core.settings import get_settings
from ingestion.__main__ import main as cli
from ingestion.mappings import apply_mapping, land_mapped, land_mapped_days

pytestmark = pytest.mark.server
DAY = date(2026, 3, 1)
KEY = "byof-test-key"
MAPPING = """
target: interaction_events
read: {na_values: ["N/A", "-"]}
columns:
  event_id: {from: id}
  user_id: {from: member, regex_replace: ["^member[ :#]*", ""]}
  event_type: {from: action, map: {view: job_view, save: job_save}}
  item_type: {const: job}
  item_id: {from: posting, split: {sep: "|", index: 0}}
  occurred_at: {from: ts}
  duration_s: {from: secs, regex_extract: "(\\\\d+) ?s"}
  session_id: {from: session}
"""
ROWS = [
    {"id": "x1", "member": "member #17", "action": "view", "posting": "J1|Acme (4.1★)",
     "ts": "2026-02-27T09:00:00Z", "secs": "12 s", "session": "N/A"},
    {"id": "x2", "member": "member 18", "action": "save", "posting": "J2|Initech",
     "ts": "2026-02-28T10:00:00Z", "secs": "-", "session": "s2"},
    {"id": "x3", "member": "member 18", "action": "view", "posting": "J3", "ts": "2026-03-01T11:00:00Z",
     "secs": "7s", "session": "s3"},
]  # fmt: skip


@pytest.fixture
def mapping_dir(tmp_path: Path) -> tuple[Path, ...]:
    folder = tmp_path / "team_mappings"
    folder.mkdir()
    (folder / "board_events.yaml").write_text(MAPPING)
    settings = get_settings({"KAIROO_MAPPING_DIRS": str(folder), "KAIROO_STATE_DIR": str(tmp_path)})
    assert settings.mapping_dirs == (folder,)
    return settings.mapping_dirs


def _exports(tmp_path: Path) -> dict[str, Path]:
    import pandas as pd

    out = tmp_path / "exports"
    out.mkdir()
    paths = {"csv": out / "events.csv", "json": out / "events.json", "records": out / "events_records.json",
             "jsonl": out / "events.jsonl", "parquet": out / "events.parquet"}  # fmt: skip
    pd.DataFrame(ROWS).to_csv(paths["csv"], index=False)
    paths["json"].write_text(json.dumps(ROWS))
    paths["records"].write_text(json.dumps({"exported": "2026-03-02", "records": ROWS}))
    paths["jsonl"].write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    pd.DataFrame(ROWS).to_parquet(paths["parquet"])
    return paths


def test_every_format_maps_to_the_same_rows_with_transforms_and_na_markers(tmp_path, mapping_dir):
    frames = {
        fmt: apply_mapping("board_events", {"main": p}, mapping_dir) for fmt, p in _exports(tmp_path).items()
    }
    cols = ["event_id", "user_id", "event_type", "item_id", "duration_s", "session_id"]
    want = [["x1", "17", "job_view", "J1", "12", None], ["x2", "18", "job_save", "J2", None, "s2"],
            ["x3", "18", "job_view", "J3", "7", "s3"]]  # fmt: skip
    for fmt, frame in frames.items():
        got = [[None if v is None or v != v else v for v in row] for row in frame[cols].values.tolist()]
        assert got == want, fmt


def test_a_history_lands_one_partition_per_day_and_far_off_events_are_reported(
    fresh_db, tmp_path, mapping_dir
):
    paths = _exports(tmp_path)
    landing = str(tmp_path / "landing")
    days = land_mapped_days("board_events", paths["jsonl"], landing, dirs=mapping_dir)
    assert sorted(days) == [date(2026, 2, 27), date(2026, 2, 28), date(2026, 3, 1)]
    report = ingestion.ingest_partition(fresh_db, "interaction_events", landing, date(2026, 2, 27), DAY, KEY)
    assert report.rows_loaded == 3 and report.far_outside == 0 and report.balanced
    with psycopg.connect(fresh_db.conninfo()) as conn:
        got = conn.execute("select _partition_date, occurred_at::date from raw.interaction_events").fetchall()
    assert all(p == o for p, o in got)
    # the same history mapped onto one later day: loaded, and its far-off events reported
    other = tmp_path / "exports" / "old.json"
    other.write_text(json.dumps([{**r, "id": "old-" + r["id"]} for r in ROWS]))
    land_mapped("board_events", other, landing, date(2026, 3, 20), mapping_dir)
    late = ingestion.ingest_partition(
        fresh_db, "interaction_events", landing, date(2026, 3, 20), date(2026, 3, 20), KEY
    )
    assert late.rows_loaded == 3 and late.far_outside == 3
    assert late.to_metadata()["rows_far_outside_partition"] == 3


def test_quarantine_names_the_users_file_and_physical_line(fresh_db, tmp_path, mapping_dir):
    src = tmp_path / "exports" / "multi.csv"
    src.parent.mkdir()
    src.write_text('id,member,action,posting,ts,secs,session\nx1,member 1,view,"J1\nsecond line",'
                   "2026-03-01T09:00:00Z,3s,s1\nx2,member 2,like,J2,2026-03-01T09:00:00Z,3s,s2\n")  # fmt: skip  # noqa: E501
    land_mapped("board_events", src, str(tmp_path / "landing"), DAY, mapping_dir)
    ingestion.ingest_partition(fresh_db, "interaction_events", str(tmp_path / "landing"), DAY, DAY, KEY)
    with psycopg.connect(fresh_db.conninfo()) as conn:
        [(rule, message)] = conn.execute("select rule, message from ops.quarantine").fetchall()
    assert rule == "enum" and f"(from {src.resolve()} line 4)" in message  # record 2 starts on line 4


def test_command_line_dry_run_writes_nothing_then_lands_and_loads(
    fresh_db, tmp_path, mapping_dir, monkeypatch, capsys
):
    env = {"KAIROO_DATABASE_URL": fresh_db.conninfo(), "KAIROO_LANDING_URL": str(tmp_path / "landing"),
           "KAIROO_MAPPING_DIRS": str(mapping_dir[0]), "KAIROO_PII_KEY": KEY, "KAIROO_STATE_DIR": str(tmp_path)}  # fmt: skip  # noqa: E501
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    src = _exports(tmp_path)["csv"]
    src.write_text(src.read_text() + "x4,member 9,like,J9,2026-03-01T12:00:00Z,1s,s9\n")
    assert cli(["land", "board_events", str(src), "--day", "2026-03-01", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "3 load, 1 quarantined" in out and "1 × enum" in out and "line 5" in out
    with psycopg.connect(fresh_db.conninfo()) as conn:
        counts = conn.execute("select (select count(*) from raw.interaction_events), (select count(*) from "
                              "ops.file_manifest), (select count(*) from ops.quarantine)").fetchone()  # fmt: skip  # noqa: E501
    assert counts == (0, 0, 0) and not (tmp_path / "landing").exists()
    assert cli(["land", "board_events", str(src), "--day", "2026-03-01"]) == 0
    assert "loaded; 4 read, 3 load, 1 quarantined" in capsys.readouterr().out
    with psycopg.connect(fresh_db.conninfo()) as conn:
        assert conn.execute("select count(*) from raw.interaction_events").fetchone()[0] == 3


@pytest.mark.parametrize("fast", [False, True], ids=["exact_path", "fast_path"])
def test_far_off_events_are_reported_on_both_load_paths(fresh_db, tmp_path, monkeypatch, fast):
    from ingestion import loader

    monkeypatch.setattr(loader, "FAST_PATH_MIN_BYTES", 0 if fast else 1 << 62)
    header = "event_id,user_id,event_type,item_type,item_id,occurred_at,duration_s,progress_pct,session_id"
    times = ["2026-03-01T10:00:00Z", "2026-02-22T23:59:59Z", "2026-02-23T00:00:00Z", "2026-03-07T23:59:59Z",
             "2026-03-08T00:00:00Z", "2024-05-01T08:00:00Z"]  # fmt: skip
    folder = tmp_path / "landing" / "interaction_events" / DAY.isoformat()
    folder.mkdir(parents=True)
    rows = [f"e{i},u1,job_view,job,j1,{t},5,,s1" for i, t in enumerate(times)]
    (folder / "a.csv").write_text("\n".join([header, *rows]) + "\n")
    report = ingestion.ingest_partition(
        fresh_db, "interaction_events", str(tmp_path / "landing"), DAY, DAY, KEY
    )
    assert report.rows_loaded == 6 and report.far_outside == 3  # 22 Feb, 8 March, 2024
    assert ("fast_path" in report.timings) is fast
