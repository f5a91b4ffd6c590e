"""Write-audit-publish on a real PostgreSQL: readers see last night's marts until every check passed."""

from __future__ import annotations

from datetime import date

import psycopg
import pytest

from core.database import PgParams, connect
from core.publish import PublishBlocked, PublishSpec, catch_up_start, publish

pytestmark = pytest.mark.server  # on the embedded server and on the shared 15.x one

SPECS = [PublishSpec("fct_daily", "window", "day"), PublishSpec("dim_things", "full")]


def _record(conn, run_id: str, suite: str, success: bool) -> None:
    conn.execute(
        "insert into ops.quality_results (run_id, suite, target, success, evaluated, failed, details)"
        " values (%s, %s, 'marts_build.x', %s, 1, %s, '[]')",
        (run_id, suite, success, 0 if success else 1),
    )


def _build(params: PgParams, days: list[str], things: int, run_id: str, passed: bool = True) -> None:
    with connect(params) as conn:
        conn.execute("drop table if exists marts_build.fct_daily, marts_build.dim_things")
        conn.execute("create table marts_build.fct_daily (day date, n int)")
        conn.execute("create table marts_build.dim_things (id int)")
        for d in days:
            conn.execute("insert into marts_build.fct_daily values (%s, %s)", (d, int(d[-2:])))
        conn.execute("insert into marts_build.dim_things select generate_series(1, %s)", (things,))
        _record(conn, run_id, "suite_a", True)
        _record(conn, run_id, "suite_b", passed)


def _published(params: PgParams) -> tuple[list, int]:
    with connect(params) as conn:
        days = conn.execute("select day::text, n from marts.fct_daily order by day").fetchall()
        things = conn.execute("select count(*) from marts.dim_things").fetchone()[0]
    return days, things


def _night(params: PgParams, run_id: str, first: str, last: str, required: list[str]):
    """Publish one night: run `run_id`, partition `last`, window [first, last] (ISO days)."""
    return publish(
        params,
        SPECS,
        run_id=run_id,
        partition_key=last,
        window=(date.fromisoformat(first), date.fromisoformat(last)),
        required_suites=required,
    )


def test_publish_then_block_then_catch_up(fresh_db):
    required = ["suite_a", "suite_b"]
    _build(fresh_db, ["2026-03-01", "2026-03-02"], 3, "run1")
    out = _night(fresh_db, "run1", "2026-03-01", "2026-03-02", required)
    assert {p.mode for p in out} == {"created"}
    before = _published(fresh_db)
    assert before == ([("2026-03-01", 1), ("2026-03-02", 2)], 3)

    # Night 3: one suite fails. Nothing reaches marts, and the error names the suite.
    _build(fresh_db, ["2026-03-01", "2026-03-02", "2026-03-03"], 5, "run2", passed=False)
    with pytest.raises(PublishBlocked, match=r"suite_b \(failed\)"):
        _night(fresh_db, "run2", "2026-03-03", "2026-03-03", required)
    assert _published(fresh_db) == before

    # A suite that never ran blocks too: nothing unchecked is published.
    with pytest.raises(PublishBlocked, match=r"suite_c \(not evaluated"):
        _night(fresh_db, "run2", "2026-03-03", "2026-03-03", [*required, "suite_c"])

    # Night 4 passes: its window reaches back over the failed night 3.
    _build(fresh_db, ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"], 6, "run3")
    with connect(fresh_db) as conn:
        conn.execute(
            "update marts_build.fct_daily set n = 99 where day = '2026-03-01'"
        )  # outside every window
    out = _night(fresh_db, "run3", "2026-03-04", "2026-03-04", required)
    window = next(p for p in out if p.table == "fct_daily")
    assert (window.mode, window.window_start, window.window_end) == (
        "window",
        date(2026, 3, 3),
        date(2026, 3, 4),
    )
    days, things = _published(fresh_db)
    assert days == [("2026-03-01", 1), ("2026-03-02", 2), ("2026-03-03", 3), ("2026-03-04", 4)]
    assert things == 6


def test_publish_is_all_or_nothing(fresh_db):
    _build(fresh_db, ["2026-03-01"], 2, "run1")
    publish(fresh_db, SPECS, run_id="run1", partition_key=None, window=None, required_suites=["suite_a"])
    _build(fresh_db, ["2026-03-01", "2026-03-02"], 9, "run2")
    with pytest.raises(PublishBlocked, match="does not exist"):
        publish(
            fresh_db,
            [*SPECS, PublishSpec("missing_mart")],
            run_id="run2",
            partition_key=None,
            window=None,
            required_suites=["suite_a"],
        )
    # The tables published before the failure inside the same transaction were rolled back.
    assert _published(fresh_db) == ([("2026-03-01", 1)], 2)


def test_reader_role_sees_marts_only(fresh_db):
    _build(fresh_db, ["2026-03-01"], 2, "run1")
    publish(fresh_db, SPECS, run_id="run1", partition_key=None, window=None, required_suites=["suite_a"])
    with connect(fresh_db) as conn:
        conn.execute("create table if not exists pii_vault.secrets (x text)")
    reader = PgParams(fresh_db.host, fresh_db.port, "kairoo_reader", "", fresh_db.dbname)
    with psycopg.connect(reader.conninfo()) as conn:
        assert conn.execute("select count(*) from marts.dim_things").fetchone()[0] == 2
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select * from marts_build.dim_things")
    with psycopg.connect(reader.conninfo()) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from pii_vault.secrets")


def test_catch_up_start():
    assert catch_up_start(None, date(2026, 3, 5)) == date(2026, 3, 5)
    assert catch_up_start(date(2026, 3, 1), date(2026, 3, 5)) == date(2026, 3, 2)
    assert catch_up_start(date(2026, 3, 9), date(2026, 3, 5)) == date(2026, 3, 5)


def test_window_spec_needs_a_date_column():
    with pytest.raises(ValueError, match="date_column"):
        PublishSpec("x", "window")


def test_window_retention_keeps_the_newest_days_only(fresh_db):
    """A window spec with retention drops published days older than the newest minus retention_days,
    counted from the newest published day: re-publishing an old window erases nothing recent."""
    specs = [PublishSpec("fct_daily", "window", "day", retention_days=2)]
    days = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    _build(fresh_db, days, 1, "r1")
    for day in ("2026-03-01", "2026-03-04"):
        d = date.fromisoformat(day)
        publish(fresh_db, specs, run_id="r1", partition_key=day, window=(d, d), required_suites=["suite_a"])
    with connect(fresh_db) as conn:
        kept = [r[0] for r in conn.execute("select day::text from marts.fct_daily order by day")]
    # The first publication copies the whole build table (03-01..03-04), then keeps days >= 03-04 - 2.
    assert kept == ["2026-03-02", "2026-03-03", "2026-03-04"]
    old = date(2026, 3, 1)
    publish(fresh_db, specs, run_id="r1", partition_key="2026-03-01", window=(old, old),
            required_suites=["suite_a"])  # fmt: skip
    with connect(fresh_db) as conn:
        kept = [r[0] for r in conn.execute("select day::text from marts.fct_daily order by day")]
    assert kept == ["2026-03-02", "2026-03-03", "2026-03-04"]
    with pytest.raises(ValueError, match="retention needs a window"):
        PublishSpec("dim_things", "full", retention_days=3)
