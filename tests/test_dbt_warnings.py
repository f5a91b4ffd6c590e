"""A clean night prints no dbt warning: a warning on every night is noise that hides the real one.

The night's two dbt steps (`warehouse_models`, `pair_features`) run through Dagster exactly as the
nightly job runs them, on the hand-made raw fixtures of one day (tests/fixtures/raw). Then dbt's own
log of each invocation (JSON, one event a line) must hold no event at level warn or error, the run's
Dagster log no warning, and every dbt test that ran must be reported as a Dagster asset check (a test
run outside Dagster's check selection is logged as an observation, with a warning).
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from core.database import PgParams
from core.settings import get_settings
from tests.conftest import make_database
from tests.test_dbt_build import DAY1, FIXTURES, add_candidate, load_delivery

pytestmark = pytest.mark.slow


def dbt_log_events(target: Path) -> list[dict]:
    """The events of one dbt invocation's log (dagster-dbt runs dbt with DBT_LOG_FORMAT=json)."""
    events = []
    for line in (target / "dbt.log").read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # a line dbt did not write as JSON: keep it visible as a warning
            events.append({"info": {"level": "warn", "name": "not-json", "msg": line}})
    return events


@pytest.fixture(scope="module")
def night(pg_server: PgParams, tmp_path_factory: pytest.TempPathFactory):
    from assets.warehouse import pair_features, warehouse_models
    from runtime.resources import build_resources

    params = make_database(pg_server, "dbt_warnings")
    with psycopg.connect(params.conninfo()) as conn:
        conn.execute((FIXTURES / "raw_tables.sql").read_text())
    assert load_delivery(params, DAY1) > 0
    add_candidate(params, DAY1)
    tmp = tmp_path_factory.mktemp("dbt_warnings")
    settings = get_settings(
        {
            "KAIROO_STATE_DIR": str(tmp),
            "KAIROO_DATABASE_URL": params.conninfo(),
            "DAGSTER_HOME": str(tmp / "dagster"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        }
    )
    instance = dg.DagsterInstance.ephemeral()
    targets = tmp / "dbt_targets"
    # Each dbt invocation writes its target folder (and dbt.log) under DBT_TARGET_PATH: here, not
    # under dbt_project/target, whose manifest the code location reads.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DBT_TARGET_PATH", str(targets))
        result = dg.materialize(
            [warehouse_models, pair_features],
            # As the nightly job selects them: with the raw tables (built by `signals`, not here) and
            # so the checks of their dbt source tests, which the warehouse step runs.
            selection=dg.AssetSelection.all() | dg.AssetSelection.all_asset_checks(),
            partition_key=DAY1.isoformat(),
            resources=build_resources(settings),
            instance=instance,
            raise_on_error=False,
        )
    yield result, instance, sorted(p for p in targets.iterdir() if (p / "dbt.log").exists())
    shutil.rmtree(targets, ignore_errors=True)


def test_the_night_builds(night):
    result, _, invocations = night
    assert result.success
    assert {p.name.split("-")[0] for p in invocations} == {"warehouse_models", "pair_features"}


def test_a_clean_night_logs_no_dbt_warning(night):
    _, _, invocations = night
    warnings = [
        f"{target.name}: {e['info'].get('name')}: {e['info'].get('msg', '')[:300]}"
        for target in invocations
        for e in dbt_log_events(target)
        if e["info"].get("level") in ("warn", "error")
    ]
    assert warnings == []


def test_a_clean_night_logs_no_dagster_warning(night):
    result, instance, _ = night
    warnings = [
        f"{e.step_key}: {e.user_message[:300]}"
        for e in instance.all_logs(result.run_id)
        if e.level >= logging.WARNING
    ]
    assert warnings == []


def test_every_dbt_test_that_ran_is_a_dagster_check(night):
    result, _, invocations = night
    ran = {
        r["unique_id"].split(".")[2]
        for target in invocations
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("test.")
    }
    checked = {e.check_name for e in result.get_asset_check_evaluations()}
    assert ran, "the night ran no dbt test"
    assert ran - checked == set()
    assert result.get_asset_observation_events() == []
    # Tests on the raw sources are checks of the raw tables.
    raw_checks = {e.check_name for e in result.get_asset_check_evaluations() if e.asset_key.path[0] == "raw"}
    assert "source_not_null_raw_interaction_events_event_id" in raw_checks
