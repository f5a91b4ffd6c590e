"""A benchmark's run never touches the project's own state or a production database."""

from __future__ import annotations

import os
from pathlib import Path

# Variables that would point a benchmark at somebody else's warehouse, landing files or registry.
FOREIGN = ("KAIROO_DATABASE_URL", "KAIROO_LANDING_URL", "MLFLOW_TRACKING_URI", "KAIROO_MLFLOW_ARTIFACTS")


def isolate_state(state: Path) -> None:
    """Point this process at `state` (embedded PostgreSQL, landing, MLflow, Dagster) and nothing else."""
    os.environ["KAIROO_STATE_DIR"] = str(state)
    os.environ["DAGSTER_HOME"] = str(state / "dagster")
    for name in FOREIGN:
        os.environ.pop(name, None)
