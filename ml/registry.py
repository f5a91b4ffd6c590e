"""MLflow input and output: every training is a run, every model a registered version; aliases say who serves.

`challenger` = the latest trained version; `champion` = the version batch scoring uses. What a run
records is decided by training (`ml.train`), whether a challenger earns `champion` by the gate
(`ml.gate`); this module only writes and reads them.

The tracking URI is passed per call and restored afterwards (no process-global leaks between callers);
SQLite + local artifacts by default (core.settings), a tracking server in production. mlflow (and
lightgbm, for models) are imported inside the functions: ~7 s without a bytecode cache (stack notes).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

EXPERIMENT = "kairoo-ranking"
CHAMPION = "champion"
CHALLENGER = "challenger"


@lru_cache(maxsize=8)
def client_for(tracking_uri: str) -> Any:
    """One MlflowClient per tracking URI and process (building one cost ~0.7 s: store + engine set-up)."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@contextmanager
def tracking(tracking_uri: str) -> Iterator[Any]:
    """Point MLflow's fluent API at `tracking_uri` for the block; yields an explicit MlflowClient."""
    import mlflow

    previous, previous_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        yield client_for(tracking_uri)
    finally:
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri(previous_registry)


def _experiment_id(client: Any, artifact_root: str) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    location = Path(artifact_root).resolve()
    location.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(EXPERIMENT, artifact_location=location.as_uri())


def pip_requirements() -> list[str]:
    """Explicit requirements: inferring them cost 9–17 s per logged model here, explicit 0.1 s."""
    import lightgbm
    import mlflow
    import scipy

    return [
        f"mlflow=={mlflow.__version__}",
        f"lightgbm=={lightgbm.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        f"scipy=={scipy.__version__}",
    ]


@dataclass
class RunRecord:
    """What one training run logs besides the model: the words and numbers a data team reads in MLflow."""

    run_name: str
    params: dict[str, Any]
    tags: dict[str, str]
    metrics: dict[str, float]
    features: list[str]
    # Writes the evaluation files (tables, plots) into the folder it is given, logged as `evaluation/`.
    write_artifacts: Callable[[Path], None] | None = None


def log_and_register(
    tracking_uri: str, artifact_root: str, model_name: str, booster: Any, record: RunRecord
) -> tuple[str, str]:
    """Log a training run (params, tags, metrics, features, evaluation artifacts) and register its model.

    Returns (run_id, model version); the version gets the `challenger` alias.
    """
    import mlflow
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    with tracking(tracking_uri) as client:
        experiment_id = _experiment_id(client, artifact_root)
        with mlflow.start_run(experiment_id=experiment_id, run_name=record.run_name) as run:
            mlflow.log_params(record.params)
            mlflow.set_tags(record.tags)
            mlflow.log_metrics(record.metrics)
            mlflow.log_dict({"features": record.features}, "features.json")
            if record.write_artifacts is not None:
                with tempfile.TemporaryDirectory() as tmp:
                    record.write_artifacts(Path(tmp))
                    mlflow.log_artifacts(tmp, "evaluation")
            example = pd.DataFrame(
                np.zeros((2, len(record.features)), dtype=np.float32), columns=record.features
            )
            signature = infer_signature(example, np.zeros(2, dtype=np.float64))
            info = mlflow.lightgbm.log_model(
                booster,
                name="model",
                signature=signature,
                pip_requirements=pip_requirements(),
                registered_model_name=model_name,
            )
            version = str(info.registered_model_version)
        client.set_registered_model_alias(model_name, CHALLENGER, version)
        client.set_model_version_tag(model_name, version, "run_id", run.info.run_id)
    return run.info.run_id, version


def load_version(tracking_uri: str, model_name: str, alias_or_version: str) -> tuple[Any, str] | None:
    """(booster, version) for an alias (`champion`, `challenger`) or a version number; None if unset."""
    import mlflow.lightgbm
    from mlflow.exceptions import MlflowException

    with tracking(tracking_uri) as client:
        try:
            if alias_or_version.isdigit():
                version = alias_or_version
            else:
                version = str(client.get_model_version_by_alias(model_name, alias_or_version).version)
        except MlflowException:
            return None
        booster = mlflow.lightgbm.load_model(f"models:/{model_name}/{version}")
    return booster, version


def version_run(tracking_uri: str, model_name: str, version: str) -> tuple[str, dict[str, str]]:
    """(run id, run tags) of the training run that registered `version`."""
    with tracking(tracking_uri) as client:
        run_id = client.get_model_version(model_name, version).run_id
        return run_id, dict(client.get_run(run_id).data.tags)


def record_gate(
    tracking_uri: str, model_name: str, run_id: str, version: str, promoted: bool, decision: dict[str, Any]
) -> None:
    """Write a gate decision: move `champion` to `version` when promoted, log it to the challenger's run.

    The run gets the tag and metric `gate_promoted` and the decision as `gate.json`.
    """
    with tracking(tracking_uri) as client:
        if promoted:
            client.set_registered_model_alias(model_name, CHAMPION, version)
        client.set_tag(run_id, "gate_promoted", str(promoted).lower())
        client.log_dict(run_id, decision, "gate.json")
        client.log_metric(run_id, "gate_promoted", float(promoted))
