"""Resources, and the ONE place that picks embedded (local) or production implementations.

Every resource is built from `core.settings`. Secrets are passed as `dg.EnvVar`, so the Dagster UI
shows the variable's name, never its value.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from core.database import PgParams, bootstrap, parse_url, warehouse_params
from core.settings import Settings, get_settings


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse. Empty `database_url` = the embedded server in `state_dir`."""

    database_url: str = ""
    state_dir: str

    _params: PgParams | None = PrivateAttr(default=None)

    def params(self) -> PgParams:
        """Connection parameters; starts/joins the embedded server and bootstraps once per process."""
        if self._params is None:
            settings = get_settings(
                {**os.environ, "KAIROO_STATE_DIR": self.state_dir, "KAIROO_DATABASE_URL": self.database_url}
            )
            params = parse_url(self.database_url) if self.database_url else warehouse_params(settings)
            bootstrap(params)
            self._params = params
        return self._params


class SignalsResource(dg.ConfigurableResource):
    """Where signal files land and the key that pseudonymizes personal identifiers."""

    landing_url: str
    pii_key: str


class MlflowResource(dg.ConfigurableResource):
    """The MLflow tracking store and model registry (SQLite in the state folder by default)."""

    tracking_uri: str
    artifact_root: str


def _secret(name: str, value: str | None) -> Any:
    # Pass an EnvVar when the variable is set, so its value never appears in run config or the UI.
    return dg.EnvVar(name) if os.environ.get(name) else (value or "")


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Resources for the current environment: embedded defaults unless variables say otherwise."""
    # dbt is imported here, not at module top: steps that only need the warehouse stay light.
    from dagster_dbt import DbtCliResource

    from orchestration.dbt_project import kairoo_dbt

    settings = settings or get_settings()
    return {
        "warehouse": WarehouseResource(
            database_url=_secret("KAIROO_DATABASE_URL", settings.database_url),
            state_dir=str(settings.state_dir),
        ),
        "signals": SignalsResource(
            landing_url=settings.landing_url,
            pii_key=_secret("KAIROO_PII_KEY", settings.pii_key),
        ),
        "mlflow": MlflowResource(
            tracking_uri=_secret("MLFLOW_TRACKING_URI", settings.mlflow_tracking_uri),
            artifact_root=settings.mlflow_artifact_root,
        ),
        "dbt": DbtCliResource(
            project_dir=kairoo_dbt,
            # The dbt beside this interpreter: the code server's PATH need not include the venv.
            dbt_executable=str(Path(sys.executable).with_name("dbt")),
            profiles_dir=str(kairoo_dbt.project_dir),
            target="embedded" if settings.embedded else "server",
        ),
    }


def executor_for(settings: Settings | None = None) -> dg.ExecutorDefinition:
    """In-process by default: on 2 cores a step process costs ~7 s of start-up (stack notes)."""
    settings = settings or get_settings()
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    return dg.in_process_executor
