"""The dbt project on a real PostgreSQL: build a night, rebuild it, deliver the next day with a late event.

One database for the module (each dbt invocation costs 10-20 s, so the scenario is shared and ordered):
day 1 is delivered and built; the same window is rebuilt and must leave every table identical; day 2 is
delivered with an event that happened on day 1, and day 1's KPIs must change accordingly. The raw rows are
the hand-made fixtures in tests/fixtures/raw/ (one CSV per raw table, `_partition_date` = delivery day).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest

from core import windows
from core.database import PgParams, bootstrap, ensure_database
from tests.conftest import database_name

REPO = Path(__file__).resolve().parent.parent
DBT_DIR = REPO / "dbt_project"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "raw"
DBT = Path(sys.executable).parent / "dbt"

# Not in `make test-fast`: real dbt builds; `server`: also on the shared 15.x server.
pytestmark = [pytest.mark.slow, pytest.mark.server]
DAY1 = date(2026, 3, 1)
DAY2 = date(2026, 3, 2)


def load_delivery(params: PgParams, delivered: date) -> int:
    """Append the fixture rows delivered on `delivered` to the raw tables (what ingestion would do)."""
    rows = 0
    with psycopg.connect(params.conninfo()) as conn:
        for path in sorted(FIXTURES.glob("*.csv")):
            with path.open(newline="") as handle:
                reader = csv.reader(handle)
                header = next(reader)
                day_col = header.index("_partition_date")
                todays = [row for row in reader if row[day_col] == delivered.isoformat()]
            statement = f"copy raw.{path.stem} ({', '.join(header)}) from stdin"
            with conn.cursor() as cur, cur.copy(statement) as copy:
                for row in todays:
                    copy.write_row([value if value != "" else None for value in row])
            rows += len(todays)
    return rows


def run_dbt(params: PgParams, target_dir: Path, *args: str) -> list[dict]:
    """Run the dbt CLI against `params`; return run_results (raises with dbt's output when it fails)."""
    env = {**os.environ, **params.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    command = [
        str(DBT),
        *args,
        "--project-dir",
        str(DBT_DIR),
        "--profiles-dir",
        str(DBT_DIR),
        "--target-path",
        str(target_dir),  # never the developer's dbt_project/target (Dagster reads its manifest)
        "--log-path",
        str(target_dir / "logs"),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        pytest.fail(f"dbt {' '.join(args)} failed:\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}")
    results = target_dir / "run_results.json"
    return json.loads(results.read_text())["results"] if results.exists() else []


def add_candidate(params: PgParams, as_of: date) -> None:
    """What ranking writes before the features of its candidates are built: u1 x job j1 as of `as_of`
    (the skill match columns come from ranking's sparse vectors; dbt adds the context features)."""
    with psycopg.connect(params.conninfo()) as conn:
        conn.execute(
            "insert into ml.candidates (as_of_date, user_key, item_type, item_id, retrieval_score, "
            "retrieval_rank) values (%s, 'u1', 'job', 'j1', 0.9, 1)",
            (as_of,),
        )


def window(day: date) -> str:
    """One night's dbt vars, as the nightly step passes them (the window and core.windows' day counts)."""
    return json.dumps({"min_date": day.isoformat(), "max_date": day.isoformat(), **windows.dbt_vars()})


def rows(params: PgParams, query: str, *args) -> list[tuple]:
    with psycopg.connect(params.conninfo()) as conn:
        return conn.execute(query, args).fetchall()


def table_fingerprints(params: PgParams) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent digest of every table dbt builds."""
    with psycopg.connect(params.conninfo()) as conn:
        tables = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_schema in ('intermediate', 'features', 'marts_build') and table_type = 'BASE TABLE' "
            "and table_name not like 'recommendations%' order by 1"
        ).fetchall()
        prints = {}
        for (name,) in tables:
            prints[name] = conn.execute(
                f"select count(*), coalesce(md5(string_agg(t::text, '|' order by t::text)), '') from {name} t"
            ).fetchone()
        return prints


@pytest.fixture(scope="module")
def warehouse(pg_server: PgParams, tmp_path_factory: pytest.TempPathFactory):
    """A bootstrapped database with the raw tables and day 1 delivered, built once for the module."""
    name = database_name(pg_server, "dbt_build")
    params = PgParams(pg_server.host, pg_server.port, pg_server.user, pg_server.password, name)
    with psycopg.connect(params.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{params.dbname}" with (force)')
    ensure_database(params)
    bootstrap(params)
    with psycopg.connect(params.conninfo()) as conn:
        conn.execute((FIXTURES / "raw_tables.sql").read_text())
    assert load_delivery(params, DAY1) > 0
    add_candidate(params, DAY1)
    target = tmp_path_factory.mktemp("dbt_target")
    results = run_dbt(params, target, "build", "--vars", window(DAY1))
    return params, target, results


def test_first_night_builds_every_model_test_and_unit_test(warehouse):
    params, _, results = warehouse
    statuses = {r["status"] for r in results}
    assert statuses <= {"success", "pass", "no-op"}, [
        r for r in results if r["status"] not in ("success", "pass", "no-op")
    ]
    unit_tests = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit_tests) >= 5  # skill gaps, sessionization, KPIs, late events (2)

    (kpi,) = rows(
        params,
        "select dau, job_applications, tool_active_users, module_starts, module_completions, new_users "
        "from marts_build.mart_exec_kpis_daily where kpi_date = %s",
        DAY1,
    )
    assert kpi == (3, 1, 1, 2, 1, 3)
    assert rows(params, "select count(*) from marts_build.fct_interactions")[0][0] == 11
    # Tool events at 09:00 (+10 min), 09:20 and 11:00 are two sessions under the 30-minute rule.
    usage = rows(params, "select tool_id, active_users, sessions from marts_build.fct_tool_usage_daily")
    assert usage == [("t1", 1, 2)]
    # u1 applied to a Data Scientist job: lacks Mathematics (0.9) and Critical Thinking (0.8), has
    # Python and SQL.
    assert rows(
        params,
        "select skill_id, gap_weight from features.user_skill_gaps where user_key = 'u1' order by skill_id",
    ) == [("2.A.2.a", 0.8), ("2.C.4.a", 0.9)]
    # Resume skills resolve case- and space-insensitively; names outside the vocabulary drop out.
    assert rows(params, "select count(*) from features.user_skills where user_key = 'u2'")[0][0] == 2
    users = {r[0] for r in rows(params, "select user_key from marts_build.dim_users")}
    assert users == {"u1", "u2", "u3", "u4", "u5"}


def test_every_mart_declares_its_publication(warehouse):
    _, target, _ = warehouse
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    marts = {n["name"]: n["config"]["meta"]["publish"] for n in nodes if n["schema"] == "marts_build"}
    assert set(marts) == {
        "fct_interactions",
        "fct_tool_usage_daily",
        "dim_users",
        "dim_jobs",
        "dim_learning_modules",
        "mart_exec_kpis_daily",
        "mart_learning_progress",
        "mart_workforce_mobility",
        "mart_tenant_activity_daily",
        "mart_tenant_tool_usage_daily",
        # Observability over the monitoring history (monitoring/, ops, plans when present).
        *(f"mart_obs_{m}" for m in ("nights", "drift", "bias", "anomalies", "freshness", "models",
                                    "plan_costs", "quarantine", "waivers")),
    }  # fmt: skip
    for name, rule in marts.items():
        assert rule["mode"] in ("full", "window"), name
        if rule["mode"] == "window":
            assert rule["date_column"], name
    contracted = {n["name"] for n in nodes if n["config"]["contract"]["enforced"]}
    assert set(marts) <= contracted
    assert {"user_skills", "job_skills", "user_skill_gaps", "candidate_pair_features"} <= contracted


def test_rebuilding_the_same_night_changes_nothing(warehouse):
    params, target, _ = warehouse
    before = table_fingerprints(params)
    # The incremental models are the ones whose re-run could double-count (tables rebuild whole).
    run_dbt(params, target, "run", "--select", "config.materialized:incremental", "--vars", window(DAY1))
    assert table_fingerprints(params) == before


def test_late_event_delivered_next_day_corrects_yesterday(warehouse):
    params, target, _ = warehouse
    load_delivery(params, DAY2)
    add_candidate(params, DAY2)
    results = run_dbt(params, target, "build", "--vars", window(DAY2))
    assert {r["status"] for r in results} <= {"success", "pass", "no-op"}

    kpis = rows(
        params,
        "select kpi_date, dau, job_applications, module_completions "
        "from marts_build.mart_exec_kpis_daily order by 1",
    )
    # u4's application happened on day 1 but arrived with day 2's files: day 1 now counts it.
    assert kpis == [(DAY1, 4, 2, 1), (DAY2, 4, 0, 1)]
    assert rows(params, "select event_id from marts_build.fct_interactions where is_late") == [("ev16",)]
    progress = rows(
        params,
        "select learners_started, learners_completed from marts_build.mart_learning_progress "
        "where module_id = 'm3'",
    )
    assert progress == [(1, 1)]
    mobility = rows(
        params,
        "select department, headcount, terminations, moves_in, moves_out, promotions "
        "from marts_build.mart_workforce_mobility where snapshot_date = %s order by 1",
        DAY2,
    )
    assert mobility == [("Engineering", 2, 0, 1, 0, 1), ("Support", 0, 1, 0, 1, 0)]


def test_pair_features_are_point_in_time(warehouse):
    params, _, _ = warehouse
    found = rows(
        params,
        "select as_of_date, level_gap, location_match, item_popularity_7d, user_activity_28d, "
        "category_interest_28d, days_since_category_interest, user_item_prior_interactions, item_age_days "
        "from features.candidate_pair_features order by as_of_date",
    )
    # As of day 1 nothing from day 1 is visible: no activity, no interest, no prior interaction.
    assert found[0] == (DAY1, 1, 1, 0, 0, 0, None, 0, 4)
    # As of day 2, day 1 counts: u1 viewed j1 (category IT) once among 3 events that day.
    assert found[1] == (DAY2, 1, 1, 1, 3, 1, 1, 1, 5)
