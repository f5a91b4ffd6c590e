"""The night under faults, piece by piece (issue #11): which faults retry, one run per day, racing
loads of one file, preflight findings, failed runs recorded, dead runs ended, the instance configs.

Each test here takes seconds on the session's embedded PostgreSQL; the whole night under faults
(kills, a server restart, two runs of one day) is tests/test_chaos.py.
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import dagster as dg
import psycopg
import pytest
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from core.database import PgParams, connect
from runtime.retries import backoff_seconds, transient_db_retries

REPO = Path(__file__).resolve().parents[1]
DAY = date(2026, 3, 1)


# --- 1. retries that match the faults ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (psycopg.errors.AdminShutdown("terminating connection due to administrator command"), True),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.errors.SerializationFailure("could not serialize access"), True),
        (psycopg.OperationalError("server closed the connection unexpectedly"), True),  # no SQLSTATE
        # OperationalError by class, but a retry fails the same way: not worth waiting for.
        (psycopg.errors.ProgramLimitExceeded("index row size 3000 exceeds maximum 2712"), False),
        (psycopg.errors.DiskFull("could not extend file: No space left on device"), False),
        (psycopg.errors.UndefinedTable('relation "raw.x" does not exist'), False),
        (ValueError("a bug"), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_transient_faults_are_told_from_the_rest(exc, transient):
    from core.transient import is_transient

    assert is_transient(exc) is transient


def test_a_wrapped_fault_is_found_through_its_causes():
    """SQLAlchemy (GX, pandas) wraps psycopg's error; an asset may re-raise it as its own."""
    from core.transient import is_transient

    try:
        try:
            raise psycopg.errors.AdminShutdown("terminating connection due to administrator command")
        except psycopg.Error as inner:
            raise RuntimeError("candidate read failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)


def test_a_dbt_run_retries_only_when_every_error_is_a_lost_connection():
    from core.transient import dbt_failure_is_transient

    lost = "Database Error in model stg_events\n  server closed the connection unexpectedly"
    restart = "Database Error\n  terminating connection due to administrator command"
    bug = 'Database Error in model fct_x\n  column "userid" does not exist'
    assert dbt_failure_is_transient([lost, restart])
    assert not dbt_failure_is_transient([lost, bug])  # the retry would fail on the bug anyway
    assert not dbt_failure_is_transient([])  # only failed tests: a verdict, not a fault


def _attempt(exc: BaseException):
    context = dg.build_op_context()
    with transient_db_retries(context):
        raise exc


def test_a_dbt_failure_from_a_server_restart_asks_for_a_retry():
    """Today dbt's failures arrive as DagsterDbtCliRuntimeError and were never retried."""
    exc = DagsterDbtCliRuntimeError(description="The dbt CLI process failed with exit code 1.")
    exc.kairoo_run_errors = ["Database Error\n  terminating connection due to administrator command"]
    with pytest.raises(dg.RetryRequested) as retry:
        _attempt(exc)
    assert retry.value.seconds_to_wait == 5 and retry.value.max_retries == 3
    assert [backoff_seconds(n) for n in range(3)] == [5, 10, 20]


def test_a_dbt_failure_from_a_bug_fails_at_once():
    exc = DagsterDbtCliRuntimeError(description="failed")
    exc.kairoo_run_errors = ['Compilation Error in model x: "ref" not found']
    with pytest.raises(DagsterDbtCliRuntimeError):
        _attempt(exc)


def test_a_limit_exceeded_is_not_retried():
    """A value too large for an index fails every attempt: retrying it only delays the alarm."""
    with pytest.raises(psycopg.errors.ProgramLimitExceeded):
        _attempt(psycopg.errors.ProgramLimitExceeded("index row size exceeds maximum"))


def test_gx_expectation_that_lost_its_connection_is_a_fault_not_a_verdict():
    from core.transient import TransientDatabaseError
    from quality.runner import raise_if_transient

    result = {
        "success": False,
        "expectation_config": {"type": "expect_column_values_to_not_be_null", "kwargs": {}},
        "exception_info": {
            "raised_exception": True,
            "exception_message": "(psycopg.OperationalError) server closed the connection unexpectedly",
        },
    }
    with pytest.raises(TransientDatabaseError):
        raise_if_transient([result])
    raise_if_transient([{**result, "exception_info": {"raised_exception": False}}])  # a plain verdict


# --- 4. one run per day ---------------------------------------------------------------------------------


def test_a_second_run_of_a_day_is_refused_naming_the_first(fresh_db: PgParams):
    from core.night_lock import DayBusyError, hold_days, holders

    first = hold_days(fresh_db, "run-aaa", [DAY])
    sibling = hold_days(fresh_db, "run-aaa", [DAY])  # another step process of the same run
    try:
        with pytest.raises(DayBusyError, match=r"2026-03-01 by run run-aaa"):
            hold_days(fresh_db, "run-bbb", [DAY])
        # A range run over that day, and a night of another day, are refused too (shared relations).
        with pytest.raises(DayBusyError, match="run-aaa"):
            hold_days(fresh_db, "run-ccc", [date(2026, 2, 27), date(2026, 2, 28)])
        assert holders(fresh_db, DAY) == ["run-aaa"]
    finally:
        first.close()
        sibling.close()
    # The lock dies with its sessions: a killed run frees its days without anyone cleaning up.
    hold_days(fresh_db, "run-bbb", [DAY]).close()


@pytest.mark.chaos
def test_racing_loads_of_one_file_count_it_once(fresh_db: PgParams, tmp_path: Path):
    """Two loads of the same new file at once used to leave 0 loaded / 2,000 quarantined (issue #11)."""
    from ingestion import loader
    from ingestion.report import LandedFile

    header = "event_id,user_id,event_type,item_type,item_id,occurred_at,duration_s,progress_pct,session_id"
    rows = [f"e{i},u{i % 50},job_view,job,j{i % 97},2026-03-01T10:00:00Z,5,,s{i}" for i in range(2000)]
    folder = tmp_path / "interaction_events" / DAY.isoformat()
    folder.mkdir(parents=True)
    path = folder / "events.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    landed = LandedFile(
        source="interaction_events", path=str(path), size=path.stat().st_size, partition_date=DAY
    )
    start = threading.Barrier(2)
    reports: list = []
    errors: list = []

    def load() -> None:
        start.wait()
        try:
            reports.append(loader.ingest_file(fresh_db, landed, "test-key", landing_url=str(tmp_path)))
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.status for r in reports) == ["duplicate", "loaded"]
    with connect(fresh_db) as conn:
        raw = conn.execute("select count(*), count(distinct event_id) from raw.interaction_events").fetchone()
        quarantined = conn.execute("select count(*) from ops.quarantine").fetchone()[0]
        manifest = conn.execute(
            "select status, rows_loaded, rows_quarantined from ops.file_manifest where status = 'loaded'"
        ).fetchall()
        ledger = conn.execute(
            "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from ops.load_ledger"
        ).fetchone()
    assert raw == (2000, 2000)
    assert quarantined == 0
    assert manifest == [("loaded", 2000, 0)]
    assert ledger == (2000, 2000, 0)


# --- 3. preflight ---------------------------------------------------------------------------------------


def _preflight(params: PgParams, tmp_path: Path, **over):
    from core.preflight import run_preflight
    from runtime.dbt_project import kairoo_dbt

    landing = tmp_path / "landing"
    (landing / "interaction_events" / DAY.isoformat()).mkdir(parents=True, exist_ok=True)
    (landing / "interaction_events" / DAY.isoformat() / "e.csv").write_text("event_id\n")
    args = {
        "landing_url": str(landing),
        "days": [DAY],
        "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}",
        "mlflow_artifact_root": str(tmp_path / "mlflow" / "artifacts"),
        "dbt_project_dir": Path(kairoo_dbt.project_dir),
        "dbt_manifest_path": Path(kairoo_dbt.manifest_path),
        "state_dir": tmp_path,
        "min_free_mb": 16,
        **over,
    }
    return run_preflight(params, **args)


def test_preflight_passes_on_a_good_setup_in_seconds(fresh_db: PgParams, tmp_path: Path):
    report = _preflight(fresh_db, tmp_path)
    assert not report.errors and not report.warnings, report.summary()
    assert report.seconds < 5


@pytest.mark.parametrize(
    ("over", "check", "level", "setting"),
    [
        ({"landing_url": "/nonexistent/kairoo-landing"}, "landing", "error", "KAIROO_LANDING_URL"),
        ({"days": [date(2026, 3, 2)]}, "landing", "warn", "KAIROO_LANDING_URL"),  # an empty day
        ({"mlflow_tracking_uri": "sqlite:////dev/null/mlflow.db"}, "mlflow_tracking", "error",
         "MLFLOW_TRACKING_URI"),
        ({"mlflow_artifact_root": "/proc/kairoo-artifacts"}, "mlflow_artifacts", "error",
         "KAIROO_MLFLOW_ARTIFACTS"),
        ({"min_free_mb": 1 << 30}, "disk", "error", "KAIROO_STATE_DIR"),
    ],
    ids=["missing_landing", "empty_day", "unwritable_tracking", "unwritable_artifacts", "no_disk"],
)  # fmt: skip
def test_each_wrong_setting_is_found_and_named(fresh_db, tmp_path, over, check, level, setting):
    report = _preflight(fresh_db, tmp_path, **over)
    found = [f for f in report.findings if f.check == check]
    assert [(f.level, f.setting) for f in found] == [(level, setting)], report.summary()
    assert setting in report.summary()


def test_an_unanswering_or_old_database_is_named(tmp_path: Path):
    from core.preflight import check_database, supported_version

    finding = check_database(PgParams("127.0.0.1", 1, "postgres", "", "kairoo"), timeout_s=2)
    assert (finding.level, finding.setting) == ("error", "KAIROO_DATABASE_URL")
    assert not supported_version(140011) and supported_version(150004) and supported_version(160002)


def test_a_stale_dbt_manifest_is_found(tmp_path: Path):
    import shutil

    from core.preflight import check_manifest
    from runtime.dbt_project import kairoo_dbt

    project = tmp_path / "dbt_project"
    shutil.copytree(kairoo_dbt.project_dir, project, ignore=shutil.ignore_patterns("target", "logs"))
    manifest = Path(kairoo_dbt.manifest_path)
    assert check_manifest(project, manifest).level == "ok"
    model = next((project / "models").rglob("*.sql"))
    model.write_text(model.read_text() + "\n-- edited after the manifest was built\nwhere false\n")
    (project / "models" / "mart_new.sql").write_text("select 1 as x\n")
    finding = check_manifest(project, manifest)
    assert (finding.level, finding.setting) == ("error", "make manifest")
    assert "(changed)" in finding.message and "mart_new.sql (new)" in finding.message


# --- 2. runs that end -----------------------------------------------------------------------------------


def test_instance_configs_queue_one_run_per_day_and_monitor_runs():
    """Both instance configs validate against Dagster's schema and carry the limits."""
    from dagster._core.instance.config import dagster_instance_config

    for name in ("dagster.local.yaml", "dagster.yaml"):
        folder = REPO / "deploy"
        config, _ = dagster_instance_config(str(folder), name)
        coordinator = config["run_coordinator"]
        assert coordinator["class"] == "QueuedRunCoordinator", name
        limits = {lim["key"]: lim for lim in coordinator["config"]["tag_concurrency_limits"]}
        assert limits["dagster/partition"]["limit"] == 1
        assert limits["dagster/partition"]["value"] == {"applyLimitPerUniqueValue": True}
        assert limits["kairoo/warehouse"]["limit"] == 1
        assert config["run_monitoring"]["enabled"] is True, name
        assert config["run_monitoring"]["max_runtime_seconds"] > 0


def test_the_nightly_job_carries_the_queue_tag_and_the_failure_hook():
    from orchestration.jobs import nightly

    assert nightly.run_tags == {"kairoo/warehouse": "nightly"}
    assert {h.name for h in nightly.hooks} == {"record_step_failure"}


def test_a_dead_started_run_is_marked_failed(fresh_db: PgParams, tmp_path: Path, monkeypatch):
    """A killed run stayed STARTED forever; the sensor ends it once no process of it holds its days."""
    from dagster._core.test_utils import create_run_for_test

    from core.night_lock import hold_days
    from orchestration import sensors
    from runtime.resources import WarehouseResource

    monkeypatch.setattr(sensors, "DEAD_AFTER_SECONDS", 0)
    with dg.instance_for_test() as instance:
        alive = create_run_for_test(instance, job_name="nightly", status=dg.DagsterRunStatus.STARTED)
        dead = create_run_for_test(instance, job_name="nightly", status=dg.DagsterRunStatus.STARTED)
        lock = hold_days(fresh_db, alive.run_id, [DAY])
        try:
            resources = {
                "warehouse": WarehouseResource(database_url=fresh_db.conninfo(), state_dir=str(tmp_path))
            }
            with dg.build_sensor_context(instance=instance, resources=resources) as context:
                sensors.end_dead_runs(context)
            assert instance.get_run_by_id(dead.run_id).status == dg.DagsterRunStatus.FAILURE
            assert instance.get_run_by_id(alive.run_id).status == dg.DagsterRunStatus.STARTED
        finally:
            lock.close()


def test_a_process_bound_to_its_parent_dies_with_it(tmp_path: Path):
    """dbt kept rewriting marts_build tables for 20 s after its night was killed (issue #11)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [sys.executable, "-c", (
            "import subprocess, sys, time\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import os, time\\n"
            "from runtime.dbt_child import bind_to_parent\\n"
            "bind_to_parent()\\n"
            f"open(\"{pid_file}\", \"w\").write(str(os.getpid()))\\n"
            "time.sleep(120)'])\n"
            "time.sleep(120)\n"
        )],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            return
        # A zombie is dead too: it waits only for its (new) parent to reap it.
        if Path(f"/proc/{child}/stat").read_text().split()[2] == "Z":
            return
        time.sleep(0.05)
    os.kill(child, signal.SIGKILL)
    pytest.fail("the child outlived its parent")
