"""The night the chaos tests break: settings for one copy of a platform, and the run of one day.

Also a command (`python -m tests.chaos_night '<json>'`): the chaos tests start the night as an OS
process of its own, so that they can kill it the way an OOM killer or a lost host does.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path

import dagster as dg

from core.settings import Settings, get_settings

# The night without ranking: preflight, ingestion, dbt, the marts' GX suites, publication. Training
# adds a minute a night and none of the faults under test (its retries are unit-tested).
SKIP_PREFIXES = ("ml", "pair_features")
# Ranking and the plans built on its recommendations are left out: the faults under test are in
# ingestion, dbt and publication, and a training costs minutes.
SKIP_KEYS = {
    ("marts_build", "recommendations"),
    ("marts", "recommendations_published"),
    ("marts_build", "user_plans"),
    ("marts", "user_plans_published"),
    ("monitoring", "night"),  # the night's verdict over ranking, which is left out
    ("monitoring", "plans_bias"),  # the plans' bias and gate, after the plans, which are left out
}


def settings_for(database_url: str, folder: Path) -> Settings:
    return get_settings(
        {
            "KAIROO_STATE_DIR": str(folder),
            "KAIROO_DATABASE_URL": database_url,
            "KAIROO_LANDING_URL": str(folder / "landing"),
            "DAGSTER_HOME": str(folder / "dagster"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
            "KAIROO_MLFLOW_ARTIFACTS": str(folder / "mlartifacts"),
            "KAIROO_PARTITION_START": "2026-01-01",
        }
    )


def night_keys(defs: dg.Definitions) -> list[dg.AssetKey]:
    job = defs.resolve_job_def("nightly")
    keys = job.asset_layer.selected_asset_keys
    return sorted(
        (k for k in keys if k.path[0] not in SKIP_PREFIXES and tuple(k.path) not in SKIP_KEYS
         and k.path[-1] != "candidate_pair_features"),
        key=lambda k: k.to_user_string(),
    )  # fmt: skip


def run_night(
    settings: Settings,
    start: date,
    end: date,
    *,
    run_id: str | None = None,
    instance: dg.DagsterInstance | None = None,
) -> dg.ExecuteInProcessResult:
    """The nightly job (without ranking and plans) for [start, end], in this process."""
    from orchestration.definitions import build_definitions

    defs = build_definitions(settings)
    tags = (
        {"dagster/partition": start.isoformat()}
        if start == end
        else {
            "dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat(),
        }
    )
    return defs.resolve_job_def("nightly").execute_in_process(
        instance=instance or dg.DagsterInstance.ephemeral(),
        tags=tags,
        run_id=run_id,
        asset_selection=night_keys(defs),
        raise_on_error=False,
    )


def main() -> None:
    args = json.loads(sys.argv[1])
    settings = settings_for(args["database_url"], Path(args["folder"]))
    day = date.fromisoformat(args["day"])
    result = run_night(settings, day, day, run_id=args["run_id"])
    print(json.dumps({"success": result.success}), flush=True)
    sys.exit(0 if result.success else 1)


if __name__ == "__main__":
    main()
