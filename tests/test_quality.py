"""Great Expectations suites run inside PostgreSQL, and their Dagster rendering."""

from __future__ import annotations

from datetime import date

from core.database import connect
from quality import Expectation, Suite, record_result, run_suite
from quality.runner import render_query

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
