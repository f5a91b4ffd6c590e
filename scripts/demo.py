"""`make demo`: a fresh machine to a finished night on demo data, then a report of what was built.

1. Demo signals from the seeded generator (tier S) land for the last 21 days.
2. The history (all days but the last) runs as ONE backfill run of the nightly job, so the ranker
   has past interactions to learn from.
3. The nightly job runs for the latest day, exactly as the 02:00 schedule would.
Both runs are recorded in the project's Dagster instance: `make ui` shows them.

The terminal gets one line per step of the night (what ran, seconds, rows) and then the report; the
full Dagster event log of each run (the history's steps too) goes to `<state>/logs/<run id>.log`,
named in the report, and what the runs print (dbt's own log lines) to `<state>/logs/stdout-*.log`.
"""

from __future__ import annotations

import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from core.settings import REPO_ROOT, Settings, get_settings

DEMO_DAYS = 21
DEMO_SEED = 20261126


def prepare_instance(settings: Settings) -> None:
    """A local Dagster instance (SQLite) with telemetry off, unless DAGSTER_HOME already has one."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    target = settings.dagster_home / "dagster.yaml"
    if not target.exists():
        shutil.copy(REPO_ROOT / "deploy" / "dagster.local.yaml", target)


def demo_window(today: date | None = None, days: int = DEMO_DAYS) -> tuple[date, date]:
    """The demo covers the `days` complete days before today (UTC)."""
    today = today or datetime.now(UTC).date()
    end = today - timedelta(days=1)
    return end - timedelta(days=days - 1), end


def land_demo_signals(settings: Settings, start: date, end: date, tier: str = "S") -> int:
    """Generate the seeded world's signals for [start, end] into the landing folder; returns the events."""
    from generator import GeneratorConfig, generate

    report = generate(
        GeneratorConfig(
            tier=tier,
            landing_dir=Path(settings.landing_url),
            oracle_dir=settings.state_dir / "oracle",
            start=start,
            end=end,
            seed=DEMO_SEED,
        )
    )
    print(
        f"landed demo signals {start}..{end}: {report.n_users} users, {report.n_jobs} jobs, "
        f"{report.n_modules} modules, {len(report.files)} files, "
        f"{report.rows('interaction_events'):,} events"
    )
    return report.rows("interaction_events")


# The console logger prints only warnings and errors; every event is kept in the instance and in the
# run's log file (`write_event_log`). At DEBUG a demo night printed ~2,400 lines.
QUIET_LOGGERS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_nightly(start: date, end: date, run_config: dict | None = None, log_dir: Path | None = None):
    """Run the nightly job for [start, end] in this process. With `log_dir`, what the run prints on
    stdout (dagster-dbt re-emits every dbt event there, ~300 lines a night) goes to a file in it."""
    import contextlib

    import dagster as dg

    from orchestration.definitions import defs  # imported once; the timer below covers the run only

    job = defs.resolve_job_def("nightly")
    instance = dg.DagsterInstance.get()
    if start == end:
        tags = {"dagster/partition": end.isoformat()}
    else:
        tags = {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        }
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            out = stack.enter_context((log_dir / f"stdout-{start}-{end}.log").open("w"))
            stack.enter_context(contextlib.redirect_stdout(out))
        result = job.execute_in_process(
            instance=instance,
            tags=tags,
            run_config={**QUIET_LOGGERS, **(run_config or {})},
            raise_on_error=False,
        )
    return result, time.perf_counter() - began, instance


def write_event_log(instance, run_id: str, folder: Path) -> Path:
    """Every event of the run, one line each, in a file the report names."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.log"
    with path.open("w") as out:
        for entry in instance.all_logs(run_id):
            when = datetime.fromtimestamp(entry.timestamp, UTC).strftime("%H:%M:%S")
            step = f" [{entry.step_key}]" if entry.step_key else ""
            out.write(f"{when} {entry.level}{step} {entry.message}\n")
    return path


def step_lines(result, instance) -> list[str]:
    """One line per step of the run: its name, status, seconds and the rows it materialized."""
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        count = event.event_specific_data.materialization.metadata.get("dagster/row_count")
        if event.step_key and count is not None:
            rows[event.step_key] = rows.get(event.step_key, 0) + int(getattr(count, "value", count))
    lines = []
    for stats in sorted(instance.get_run_step_stats(result.run_id), key=lambda s: s.start_time or 0):
        seconds = (stats.end_time or 0) - (stats.start_time or 0)
        status = stats.status.value.lower() if stats.status else "?"
        n = f"{rows[stats.step_key]:>12,} rows" if stats.step_key in rows else ""
        lines.append(f"  {stats.step_key:<44} {status:<9} {seconds:>7.1f} s {n}")
    return lines


def asset_metadata(result, asset: str) -> dict:
    """The last materialization's metadata of `asset` in a run, as plain values ({} if none)."""
    events = [
        m.event_specific_data.materialization
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == asset
    ]
    return {k: getattr(v, "value", v) for k, v in events[-1].metadata.items()} if events else {}


def ranker_metrics(metadata: dict) -> dict:
    """The evaluation metrics in ml/ranker_challenger's metadata (`metric/ndcg10` -> `ndcg10`)."""
    return {k.removeprefix("metric/"): v for k, v in metadata.items() if k.startswith("metric/")}


def overhead_share(instance, run_id: str, wall_s: float) -> float:
    """Share of the run's wall time spent outside asset and check bodies (orchestration overhead)."""
    busy = sum(
        (s.end_time or 0) - (s.start_time or 0) for s in instance.get_run_step_stats(run_id) if s.end_time
    )
    return max(0.0, 1.0 - busy / wall_s) if wall_s else 0.0


def report(settings: Settings, results: list[tuple[str, object, float, object]]) -> int:
    from core.database import connect, warehouse_params

    ok = True
    for label, result, wall, instance in results:
        evals = result.get_asset_check_evaluations()
        failed = [e for e in evals if not e.passed]
        ok &= result.success
        print(
            f"\n{label}: {'SUCCESS' if result.success else 'FAILED'} in {wall:.1f} s "
            f"(orchestration overhead {overhead_share(instance, result.run_id, wall):.0%}); "
            f"checks {len(evals) - len(failed)} passed, {len(failed)} failed"
        )
        print(f"  event log: {write_event_log(instance, result.run_id, settings.state_dir / 'logs')}")
        for e in failed:
            print(f"  failed check {e.asset_key.to_user_string()}:{e.check_name} ({e.severity.value})")
        # A range run records one materialization per day: the metrics are the same, print them once.
        metrics = ranker_metrics(asset_metadata(result, "ml/ranker_challenger"))
        if metrics:
            print(f"  ranker: {metrics}")
    with connect(warehouse_params(settings)) as conn:
        rows = conn.execute(
            """
            select table_schema, table_name from information_schema.tables
            where table_schema in ('raw', 'marts') order by 1, 2
            """
        ).fetchall()
        cells = [
            f"{schema}.{table} {conn.execute(f'select count(*) from {schema}.{table}').fetchone()[0]:,}"
            for schema, table in rows
        ]
        q = (
            conn.execute("select count(*) from ops.quarantine").fetchone()[0]
            if _has(conn, "ops", "quarantine")
            else 0
        )
        cells.append(f"ops.quarantine {q:,}")
        # Three tables a line: the report stays on one screen as the marts grow.
        print("\nTables (rows):")
        for i in range(0, len(cells), 3):
            print("  " + "".join(f"{c:<44}" for c in cells[i : i + 3]).rstrip())
        last_run = results[-1][1].run_id
        verdicts = (
            conn.execute(
                "select gate, status from monitoring.night_verdicts where run_id = %s order by gate",
                (last_run,),
            ).fetchall()
            if _has(conn, "monitoring", "night_verdicts")
            else []
        )
        if verdicts:
            print("\nTonight's monitoring verdict: " + ", ".join(f"{g} {s}" for g, s in verdicts))
    print()
    from plans.demo import print_plans

    print_plans(warehouse_params(settings))
    print(
        "\nDagster UI: `make ui`, then http://127.0.0.1:3000 (runs, asset checks, metadata). "
        "MLflow: `make mlflow`, then http://127.0.0.1:5000.\n"
        "Boards (executive dashboard, observability board, review queue): `make boards`, then "
        "http://127.0.0.1:8501."
    )
    return 0 if ok else 1


def _has(conn, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "select 1 from information_schema.tables where table_schema = %s and table_name = %s",
            (schema, table),
        ).fetchone()
    )


def main() -> int:
    settings = get_settings()
    prepare_instance(settings)
    start, end = demo_window()
    began = time.perf_counter()
    land_demo_signals(settings, start, end)
    print(f"generated in {time.perf_counter() - began:.1f} s")
    began = time.perf_counter()
    import orchestration.definitions  # noqa: F401  (the code location, as Dagster loads it)

    print(f"code location loaded in {time.perf_counter() - began:.1f} s")
    results = []
    print(f"history backfill {start}..{end - timedelta(days=1)} (one run; its steps are in its event log)")
    history = run_nightly(start, end - timedelta(days=1), log_dir=settings.state_dir / "logs")
    results.append((f"history backfill {start}..{end - timedelta(days=1)}", *history))
    # The last night also evaluates the ranker against the generator's latent truth (evaluation only).
    oracle = {
        "ops": {"ml__ranker_challenger": {"config": {"oracle_dir": str(settings.state_dir / "oracle")}}}
    }
    print(f"nightly {end}:")
    night = run_nightly(end, end, oracle, log_dir=settings.state_dir / "logs")
    print("\n".join(step_lines(night[0], night[2])))
    results.append((f"nightly {end}", *night))
    return report(settings, results)


if __name__ == "__main__":
    sys.exit(main())
