"""The chaos suite (issue #11): the real night, on its own embedded PostgreSQL, broken as operators
break it: killed during ingestion and during dbt, its database restarted during dbt, launched twice
for one day, started with wrong settings.

One platform per module: a few days of seeded signals loaded and built as one history run on a
PostgreSQL server of this module's own (restarting it cannot disturb any other test). Each test
works on a copy (the database cloned from the built one as a template, the landing files copied)
and runs the next night on it, without ranking (tests/chaos_night.py). To stop a night at a known
point, a test holds a lock the night needs: the per-file advisory lock of tonight's events file
(ingestion waits on it after loading the other sources) or a mart's table lock (dbt waits on it after
rebuilding staging and intermediate models).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from core.database import PgParams, connect, start_embedded, stop_embedded
from tests.chaos_night import run_night, settings_for
from tests.conftest import make_database

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
START, NIGHT = date(2026, 3, 2), date(2026, 3, 5)
LOCKED_MART = "marts_build.mart_exec_kpis_daily"
PARTITIONED = ("resumes", "job_postings", "hris_employees", "interaction_events")


@dataclass
class Copy:
    params: PgParams
    folder: Path

    @property
    def settings(self):
        return settings_for(self.params.conninfo(), self.folder)

    def query(self, sql: str, args: tuple = ()):
        with connect(self.params) as conn:
            return conn.execute(sql, args).fetchall()

    def published(self) -> dict[str, tuple[int, str]]:
        """Row count and an order-independent hash of every published table."""
        out = {}
        tables = self.query("select table_name from information_schema.tables where table_schema = 'marts'")
        for (table,) in tables:
            rows = self.query(f'select md5(t::text) from marts."{table}" as t')
            out[table] = (len(rows), hashlib.md5("".join(sorted(r[0] for r in rows)).encode()).hexdigest())
        return out


@pytest.fixture(scope="module")
def chaos_server():
    """This module's own PostgreSQL (restarted by a test), stopped at the end."""
    folder = Path(tempfile.mkdtemp(prefix="kc-", dir="/tmp"))  # short: unix socket paths < 107 bytes
    params = start_embedded(folder / "pg", outlive_process=False)
    yield params, folder / "pg"
    stop_embedded(folder / "pg")
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def built(chaos_server, tmp_path_factory: pytest.TempPathFactory) -> Copy:
    from generator import GeneratorConfig, generate

    server, _ = chaos_server
    folder = tmp_path_factory.mktemp("chaos")
    generate(GeneratorConfig(tier="S", landing_dir=folder / "landing", oracle_dir=folder / "oracle",
                             start=START, end=NIGHT, seed=5))  # fmt: skip
    platform = Copy(make_database(server, "chaos"), folder)
    history = run_night(platform.settings, START, NIGHT - timedelta(days=1))
    assert history.success, _failures(history)
    return platform


@pytest.fixture
def copy(built: Copy, tmp_path: Path, request: pytest.FixtureRequest) -> Copy:
    name = f"t_chaos_{request.node.name[:30].lower()}"
    with psycopg.connect(built.params.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s",
            (built.params.dbname,),
        )
        conn.execute(f'create database "{name}" template "{built.params.dbname}"')
    shutil.copytree(built.folder / "landing", tmp_path / "landing")
    p = built.params
    return Copy(PgParams(p.host, p.port, p.user, p.password, name), tmp_path)


def _failures(result: dg.ExecuteInProcessResult) -> list[str]:
    out = [f"{e.step_key}: {e.event_specific_data.error.message[:300]}" for e in result.all_events
           if e.event_type == dg.DagsterEventType.STEP_FAILURE]  # fmt: skip
    out += [f"{e.asset_key.to_user_string()}:{e.check_name}" for e in result.get_asset_check_evaluations()
            if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]  # fmt: skip
    return out


def _start_night(copy: Copy, run_id: str) -> subprocess.Popen:
    """The night for NIGHT as an OS process of its own (to be killed)."""
    args = {"database_url": copy.params.conninfo(), "folder": str(copy.folder), "day": NIGHT.isoformat(),
            "run_id": run_id}  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "tests.chaos_night", json.dumps(args)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_until(predicate, what: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the night ended (exit {proc.returncode}) before {what}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting until {what}")


def _waiting_on_lock(copy: Copy, application: str) -> bool:
    return bool(copy.query(
        "select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'"
        " and application_name like %s", (application,)))  # fmt: skip


def _events_file(copy: Copy) -> tuple[str, str]:
    """(path, sha256) of tonight's events file."""
    path = next((copy.folder / "landing" / "interaction_events" / NIGHT.isoformat()).glob("*"))
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


def _hold_file_lock(copy: Copy) -> psycopg.Connection:
    """Hold the advisory lock ingestion takes for tonight's events file (ingestion/loader.py)."""
    _, sha = _events_file(copy)
    conn = psycopg.connect(copy.params.conninfo(), autocommit=True)
    conn.execute("select pg_advisory_lock(hashtext('kairoo.file'), hashtext(%s || ':' || %s))",
                 ("interaction_events", sha))  # fmt: skip
    return conn


def _hold_mart(copy: Copy) -> psycopg.Connection:
    conn = psycopg.connect(copy.params.conninfo())
    conn.execute(f"lock table {LOCKED_MART} in access exclusive mode")
    return conn


def _kill(proc: subprocess.Popen) -> list[int]:
    """SIGKILL the night's process alone (as the OOM killer does); return its children's pids."""
    import psutil

    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return children


def _alive(pids: list[int]) -> list[int]:
    import psutil

    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]


def _generated_rows(copy: Copy, source: str) -> int:
    """Data rows the generator wrote for tonight (CSV records after the header, JSON lines)."""
    total = 0
    for path in (copy.folder / "landing" / source / NIGHT.isoformat()).glob("*"):
        with path.open(newline="", encoding="utf-8", errors="replace") as f:
            if path.suffix == ".jsonl":
                total += sum(1 for line in f if line.strip())
            else:
                total += max(sum(1 for _ in csv.reader(f)) - 1, 0)
    return total


def _assert_night_complete(copy: Copy) -> None:
    """Tonight loaded exactly once, every generated row accounted for, built and published."""
    for source in PARTITIONED:
        generated = _generated_rows(copy, source)
        read, loaded, quarantined = copy.query(
            "select coalesce(sum(rows_read), 0), coalesce(sum(rows_loaded), 0),"
            " coalesce(sum(rows_quarantined), 0) from ops.file_manifest"
            " where source = %s and partition_date = %s and status in ('loaded', 'rejected')",
            (source, NIGHT),
        )[0]
        assert read == generated == loaded + quarantined, source
        in_raw = copy.query(
            f"select count(*) from raw.{source} where _file_id in (select file_id from ops.file_manifest"
            " where source = %s and partition_date = %s and status = 'loaded')",
            (source, NIGHT),
        )[0][0]
        assert in_raw == loaded, source
    unbalanced = copy.query(
        "select count(*) from ops.load_ledger where rows_read <> rows_loaded + rows_quarantined"
    )
    assert unbalanced == [(0,)]
    dupes = copy.query("select count(*) - count(distinct event_id) from marts.fct_interactions")[0][0]
    assert dupes == 0
    raw, published = copy.query(
        "select (select count(*) from raw.interaction_events),"
        " (select count(distinct event_id) from marts.fct_interactions)"
    )[0]
    assert published == raw
    assert copy.query("select max(kpi_date) from marts.mart_exec_kpis_daily") == [(NIGHT,)]


def _restart_when_dbt_waits(copy: Copy, pg_dir: Path, restarted) -> None:
    """Once dbt waits on the held mart, restart the server: every session ends with admin_shutdown."""
    import pgserver
    from pgserver._commands import pg_ctl

    server = pgserver.get_server(pg_dir, cleanup_mode=None)
    _wait_until(lambda: _waiting_on_lock(copy, "dbt%"), f"dbt waits on {LOCKED_MART}")
    pg_ctl(["-w", "-m", "fast", "-l", str(server.log), "restart"], pgdata=server.pgdata,
           user=server.system_user, timeout=60)  # fmt: skip
    restarted.set()


def test_a_night_killed_in_ingestion_then_in_dbt_then_restarted_ends_complete(copy: Copy, chaos_server):
    """One night through every fault in turn (one copy, one complete night at the end, for speed).

    1. killed while ingesting, and meanwhile launched a second time: the second run is refused;
    2. re-run and killed while dbt builds: dbt ends with it;
    3. re-run while the database restarts under dbt: the dbt step retries and the night completes.
    Nothing is published by the killed runs; at the end every generated row is accounted for once.
    """
    import threading

    before = copy.published()

    # 1. Killed during ingestion; a second run of the day is refused, naming the first.
    first_run = str(uuid.uuid4())
    lock = _hold_file_lock(copy)
    night = _start_night(copy, first_run)
    try:
        waiting = "ingestion waits on the events file"
        _wait_until(lambda: _waiting_on_lock(copy, "kairoo-ingest"), waiting, proc=night)
        second = run_night(copy.settings, NIGHT, NIGHT)
        assert not second.success
        refused = copy.query("select message from ops.run_failures where run_id = %s", (second.run_id,))
        assert refused and first_run in refused[0][0] and "refused" in refused[0][0]
        children = _kill(night)
    finally:
        lock.close()
        if night.poll() is None:
            night.kill()
    _wait_until(lambda: not _alive(children), "the night's children end with it", timeout=15)
    assert copy.published() == before  # the killed run published nothing
    loaded_events = (
        "select count(*) from ops.file_manifest where partition_date = %s"
        " and source = 'interaction_events' and status = 'loaded'"
    )
    assert copy.query(loaded_events, (NIGHT,)) == [(0,)]  # killed half-way: events not in

    # 2. Re-run, killed during dbt: dbt used to go on rewriting marts_build for 20 s (issue #11).
    lock = _hold_mart(copy)
    night = _start_night(copy, str(uuid.uuid4()))
    try:
        _wait_until(lambda: _waiting_on_lock(copy, "dbt%"), f"dbt waits on {LOCKED_MART}", proc=night)
        children = _kill(night)
        assert children, "dbt runs as a child of the night"
        _wait_until(lambda: not _alive(children), "dbt ends with its night", timeout=15)
    finally:
        lock.close()
        if night.poll() is None:
            night.kill()
    dbt_sessions = (
        "select 1 from pg_stat_activity where application_name like 'dbt%%' and datname = current_database()"
    )
    _wait_until(lambda: not copy.query(dbt_sessions), "dbt's sessions end", timeout=15)
    assert copy.published() == before

    # 3. Re-run while PostgreSQL restarts during dbt (this module's own server).
    _, pg_dir = chaos_server
    lock = _hold_mart(copy)
    restarted = threading.Event()
    thread = threading.Thread(target=_restart_when_dbt_waits, args=(copy, pg_dir, restarted), daemon=True)
    thread.start()
    try:
        result = run_night(copy.settings, NIGHT, NIGHT)
    finally:
        thread.join(timeout=60)
        lock.close()
    assert restarted.is_set()
    assert result.success, _failures(result)
    retried = [e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    assert "warehouse_models" in retried
    # The dbt tests that lost their connection were errors of the step, never failed data checks.
    # (Freshness checks, WARN, say the test's past days are overdue today: not what is asserted here.)
    assert not [e for e in result.get_asset_check_evaluations()
                if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]  # fmt: skip
    _assert_night_complete(copy)


def _messages(error) -> list[str]:
    """An error's message and its causes' (a resource's error is wrapped by Dagster's)."""
    out = []
    while error is not None:
        out.append(str(error.message))
        error = error.cause or getattr(error, "context", None)
    return out


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("KAIROO_LANDING_URL", "/nonexistent/kairoo-landing"),
        ("MLFLOW_TRACKING_URI", "sqlite:////dev/null/mlflow.db"),
        ("KAIROO_MLFLOW_ARTIFACTS", "/proc/kairoo-artifacts"),
        ("KAIROO_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/kairoo"),
    ],
)
def test_a_wrong_setting_fails_the_night_at_its_start_naming_the_setting(
    built: Copy, tmp_path, setting, value
):
    import dataclasses

    field = {
        "KAIROO_LANDING_URL": "landing_url",
        "MLFLOW_TRACKING_URI": "mlflow_tracking_uri",
        "KAIROO_MLFLOW_ARTIFACTS": "mlflow_artifact_root",
        "KAIROO_DATABASE_URL": "database_url",
    }[setting]
    settings = settings_for(built.params.conninfo(), tmp_path)
    settings = dataclasses.replace(settings, **{"landing_url": str(built.folder / "landing"), field: value})
    began = time.monotonic()
    result = run_night(settings, NIGHT + timedelta(days=1), NIGHT + timedelta(days=1))
    assert not result.success
    assert time.monotonic() - began < 30
    failures = (dg.DagsterEventType.STEP_FAILURE, dg.DagsterEventType.RUN_FAILURE)
    errors = [m for e in result.all_events
              if e.event_type in failures and getattr(e.event_specific_data, "error", None)
              for m in _messages(e.event_specific_data.error)]  # fmt: skip
    assert any(setting in m for m in errors), errors
    # Nothing else of the night ran.
    done = {e.step_key for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_SUCCESS}
    assert not done, done
