"""The code location loads fast, and its shape (assets, checks, jobs, schedules, sensors) is pinned.

An accidental rename of an asset or check breaks dashboards, sensors and history in the Dagster UI;
the snapshot makes such a change a deliberate, reviewed diff. Regenerate it after an intended
change with `KAIROO_UPDATE_SNAPSHOTS=1 make test`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.json"
REPO = Path(__file__).resolve().parents[1]


def graph_shape() -> dict:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitioned": node.partitions_def is not None,
        }
    checks = sorted(f"{k.asset_key.to_user_string()}:{k.name}" for k in graph.asset_check_keys)
    return {
        "assets": assets,
        "checks": checks,
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": sorted(s.name for s in defs.schedules or []),
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


def test_asset_graph_matches_snapshot():
    shape = graph_shape()
    if os.environ.get("KAIROO_UPDATE_SNAPSHOTS") or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(shape, indent=1, sort_keys=True) + "\n")
    assert shape == json.loads(SNAPSHOT.read_text())


def test_every_mart_has_a_check_and_a_publisher():
    """Nothing reaches the dashboards unchecked: each marts_build table carries at least one check
    (a dbt test or a Great Expectations suite) and feeds a publisher in `marts/`."""
    shape = graph_shape()
    marts = [k for k in shape["assets"] if k.startswith("marts_build/")]
    publishers = [k for k in shape["assets"] if k.startswith("marts/")]
    published_deps = {d for p in publishers for d in shape["assets"][p]["deps"]}
    checked = {c.split(":")[0] for c in shape["checks"]}
    assert marts
    assert [m for m in marts if m not in published_deps] == []
    assert [m for m in marts if m not in checked] == []


def test_schedule_runs_nightly_for_yesterday():
    import dagster as dg

    from orchestration.definitions import defs

    schedule = defs.resolve_schedule_def("nightly_at_0200_utc")
    assert schedule.cron_schedule == "0 2 * * *"
    assert schedule.execution_timezone in (None, "UTC")
    context = dg.build_schedule_context(
        scheduled_execution_time=__import__("datetime").datetime(2026, 3, 5, 2, 0)
    )
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2026-03-04"]


HEAVY = ("great_expectations", "evidently", "mlflow", "lightgbm", "sklearn", "openai", "fairlearn", "dask")


def test_code_location_does_not_import_heavy_libraries():
    """Each step process re-imports the code location: GX, MLflow, LightGBM... load inside steps only.

    (Load time itself is measured by benchmarks/bench_load.py, not asserted here.)
    """
    code = (
        "import sys, json, orchestration.definitions; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
