"""Great Expectations suites run inside PostgreSQL, and their Dagster rendering."""

from __future__ import annotations

from datetime import date

import pytest

from core.database import connect
from quality import Expectation, Suite, record_result, run_suite
from quality.runner import render_query

# Not in `make test-fast`: Great Expectations (16 s to import here).
pytestmark = pytest.mark.slow

SUITE = Suite(
    name="things_suite",
    schema="marts_build",
    table="things",
    expectations=(
        Expectation("ExpectColumnValuesToNotBeNull", column="user_key"),
        Expectation("ExpectColumnValuesToBeBetween", column="score", min_value=0, max_value=1),
        Expectation("ExpectTableRowCountToBeBetween", min_value=1),
    ),
)


def _things(params, bad: bool) -> None:
    with connect(params) as conn:
        conn.execute("drop table if exists marts_build.things")
        conn.execute("create table marts_build.things (user_key text, score float, day date)")
        conn.execute(
            "insert into marts_build.things select 'u' || g, (g % 10) / 10.0, date '2026-03-01' + (g % 3)"
            " from generate_series(1, 1000) g"
        )
        if bad:
            conn.execute("insert into marts_build.things values (null, 7.5, '2026-03-02')")


def test_suite_passes_and_fails_with_evidence(fresh_db):
    import dagster as dg

    from runtime.gx import to_check_result

    _things(fresh_db, bad=False)
    ok = run_suite(fresh_db, SUITE)
    assert ok.success and not ok.failed and len(ok.outcomes) == 3

    _things(fresh_db, bad=True)
    bad = run_suite(fresh_db, SUITE)
    assert not bad.success
    failed = {o.expectation: o for o in bad.failed}
    assert set(failed) == {"expect_column_values_to_not_be_null", "expect_column_values_to_be_between"}
    assert failed["expect_column_values_to_be_between"].sample == [7.5]
    assert failed["expect_column_values_to_not_be_null"].unexpected_count == 1

    record_result(fresh_db, bad, run_id="r1", partition_key="2026-03-02")
    with connect(fresh_db) as conn:
        row = conn.execute(
            "select success, evaluated, failed from ops.quality_results where run_id = 'r1'"
        ).fetchone()
    assert row == (False, 3, 2)

    check = to_check_result(bad)
    assert isinstance(check, dg.AssetCheckResult) and not check.passed
    assert check.severity == dg.AssetCheckSeverity.ERROR
    failed_meta = check.metadata["failed_expectations"].value
    assert {f["expectation"] for f in failed_meta} == set(failed)
    assert {f["column"] for f in failed_meta} == {"user_key", "score"}
    assert "**NO**" in check.metadata["expectations"].value


def test_query_suite_checks_only_the_window(fresh_db):
    _things(fresh_db, bad=True)  # the bad row is on 2026-03-02
    windowed = Suite(
        name="things_window",
        schema="marts_build",
        table="things",
        expectations=(Expectation("ExpectColumnValuesToNotBeNull", column="user_key"),),
        query="select * from {schema}.{table} where day between '{start}' and '{end}'",
    )
    assert run_suite(fresh_db, windowed, start=date(2026, 3, 3), end=date(2026, 3, 3)).success
    assert not run_suite(fresh_db, windowed, start=date(2026, 3, 2), end=date(2026, 3, 2)).success


def test_render_query_defaults_to_all_history():
    s = Suite("s", "a", "b", (), query="select * from {schema}.{table} where d between '{start}' and '{end}'")
    assert render_query(s, None, None) == "select * from a.b where d between '1900-01-01' and '9999-12-31'"


def test_render_query_wraps_cte_chains_for_gx():
    s = Suite("s", "a", "b", (), query="  with x as (select 1 as n) select n from x")
    assert (
        render_query(s, None, None)
        == "select * from (with x as (select 1 as n) select n from x) as suite_rows"
    )


def _recommendations(params, plant: bool) -> None:
    """Two nights of job lists (5 users x ranks 1..3 over known jobs); `plant` adds tonight's faults."""
    with connect(params) as conn:
        for ddl in (
            "drop table if exists marts_build.recommendations_jobs",
            "drop table if exists marts_build.dim_users",
            "drop table if exists marts_build.dim_jobs",
            "create table marts_build.dim_users (user_key text primary key)",
            "create table marts_build.dim_jobs (job_id text primary key)",
            """create table marts_build.recommendations_jobs (as_of_date date not null,
               user_key text not null, item_id text not null, rank integer not null,
               score double precision not null, model_name text not null, model_version text not null)""",
        ):
            conn.execute(ddl)
        conn.execute("insert into marts_build.dim_users select 'u' || g from generate_series(1, 5) g")
        conn.execute("insert into marts_build.dim_jobs select 'j' || g from generate_series(1, 9) g")
        conn.execute(
            """insert into marts_build.recommendations_jobs
               select d, 'u' || u, 'j' || (u + r), r, 1.0 / r, 'm', '1'
               from unnest(array[date '2026-03-01', date '2026-03-02']) as d,
                    generate_series(1, 5) as u, generate_series(1, 3) as r"""
        )
        # Last night's faults must not fail tonight: the suite reads tonight's rows only.
        insert = "insert into marts_build.recommendations_jobs values (%s, %s, %s, %s, 0.5, 'm', '1')"
        conn.execute(insert, ("2026-03-01", "ghost", "j1", 1))
        if plant:
            for row in (
                ("u1", "j9", 1),  # a second rank 1 for u1
                ("u2", "j3", 4),  # j3 listed twice for u2 (ranks 1..3 hold j3, j4, j5)
                ("u404", "j1", 1),  # a user unknown to dim_users
                ("u3", "j404", 4),  # a job unknown to dim_jobs
            ):
                conn.execute(insert, ("2026-03-02", *row))


def test_recommendations_suite_finds_each_cross_row_fault_with_its_rows(fresh_db):
    """Duplicate ranks, duplicate items and unknown users or items tonight each fail their own rule,
    with the offending rows as the sample; yesterday's rows are not re-read."""
    from quality.mart_suites import RECOMMENDATION_SUITES

    suite = next(s.suite for s in RECOMMENDATION_SUITES if s.suite.table == "recommendations_jobs")
    night = date(2026, 3, 2)
    _recommendations(fresh_db, plant=False)
    clean = run_suite(fresh_db, suite, start=night, end=night)
    assert clean.success, clean.summary()
    assert len(clean.outcomes) == 7

    _recommendations(fresh_db, plant=True)
    result = run_suite(fresh_db, suite, start=night, end=night)
    assert not result.success
    failed = {o.column: o for o in result.failed}
    assert set(failed) == {
        "one row per (user_key, rank)",
        "one row per (user_key, item_id)",
        "user_key is a known dim_users.user_key",
        "item_id is a known dim_jobs.job_id",
    }, result.summary()
    assert failed["one row per (user_key, rank)"].sample == [{"user_key": "u1", "rank": 1, "copies": 2}]
    assert failed["one row per (user_key, item_id)"].sample == [
        {"user_key": "u2", "item_id": "j3", "copies": 2}
    ]
    assert failed["user_key is a known dim_users.user_key"].sample == [{"user_key": "u404"}]
    assert failed["item_id is a known dim_jobs.job_id"].sample == [{"item_id": "j404"}]
    assert all(o.unexpected_count == 1 for o in failed.values())
