"""Supported warehouse servers: PostgreSQL 15, 16 and 17; older ones are refused by name.

The row rules must give the same verdicts on 15 (no `pg_input_is_valid`) as on 16+: the whole ingestion
suite runs on both servers (marker `server`); here the predicate choice itself is pinned down.
"""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

import ingestion
from core.database import UnsupportedServer, bootstrap, require_supported_server

pytestmark = pytest.mark.server
DAY = date(2026, 3, 1)
HEADER = "event_id,user_id,event_type,item_type,item_id,occurred_at,duration_s,progress_pct,session_id"


def test_servers_older_than_15_are_refused_naming_the_version():
    with pytest.raises(UnsupportedServer, match=r"PostgreSQL 14\.12 .*needs PostgreSQL 15 or newer"):
        require_supported_server(140012, "14.12 (Debian 14.12-1)")
    require_supported_server(150020, "15.20")  # 15, 16, 17: accepted
    require_supported_server(170002, "17.2")


def test_bootstrap_accepts_this_server_and_rules_agree_with_its_casts(fresh_db, tmp_path):
    bootstrap(fresh_db)  # idempotent, and the server (15.x or 16) is supported
    folder = tmp_path / "landing" / "interaction_events" / DAY.isoformat()
    folder.mkdir(parents=True)
    rows = [
        "e1,u1,job_view,job,j1,2026-03-01T10:00:00Z,5,,s1",
        "e2,u1,job_view,job,j1,2026-02-30T10:00:00Z,5,,s1",  # no 30 February
        "e3,u1,job_view,job,j1,2026-03-01 10:00:00+02,99999999999,,s1",  # integer out of range
        "e4,u1,module_progress,module,m1,2026-03-01T10:00:00Z,5,1e400x,s1",
        "e5,u1,module_progress,module,m1,2026-03-01T10:00:00Z, 7 ,  12.5 ,s1",  # blanks are fine
    ]
    (folder / "a.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    report = ingestion.ingest_partition(
        fresh_db, "interaction_events", str(tmp_path / "landing"), DAY, DAY, "k"
    )
    assert report.balanced and report.rows_loaded == 2, report.files
    with psycopg.connect(fresh_db.conninfo()) as conn:
        got = conn.execute("select line, rule, column_name from ops.quarantine order by line").fetchall()
        # on 15 the casts are checked by ops.input_is_valid, which must exist on every server
        assert conn.execute("select ops.input_is_valid('2026-02-29', 'date')").fetchone()[0] is False
    assert got == [
        (3, "timestamp_unparsable", "occurred_at"),
        (4, "type", "duration_s"),
        (5, "type", "progress_pct"),
    ]
