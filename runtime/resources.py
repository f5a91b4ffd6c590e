"""Resources, and the ONE place that picks embedded (local) or production implementations.

Every resource is built from one `core.settings.Settings`. Settings passed explicitly win over the
process environment (tests and tools build definitions for their own database while the shell may
point elsewhere). A secret that equals the process variable of the same name is passed as
`dg.EnvVar`, so the Dagster UI shows the variable's name, never its value.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource
from pydantic import PrivateAttr

from core.database import PgParams, bootstrap, embedded_params, parse_url
from core.settings import Settings, get_settings
from runtime.dbt_project import kairoo_dbt


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse. Empty `database_url` = the embedded server in `state_dir`/pg."""

    database_url: str = ""
    state_dir: str

    _params: PgParams | None = PrivateAttr(default=None)

    def params(self) -> PgParams:
        """Connection parameters; starts/joins the embedded server and bootstraps once per process."""
        if self._params is None:
            if self.database_url:
                params = parse_url(self.database_url)
            else:
                params = embedded_params(Path(self.state_dir) / "pg")
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
    """The value itself, or an EnvVar when the process variable holds exactly this value.

    Comparing values (not merely "is the variable set") is what lets explicit settings win: a test
    that passes its own database URL while the shell exports another gets its own.
    """
    if value and os.environ.get(name) == value:
        return dg.EnvVar(name)
    return value or ""


def build_resources(settings: Settings | None = None) -> dict[str, Any]:
    """Resources for one environment: `settings`, or the process environment when none are given."""
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
        "dbt": KairooDbtResource(
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


class KairooDbtResource(DbtCliResource):
    """dagster-dbt's CLI resource, started with the warehouse connection in the dbt process's environment."""

    def invoke(self, args: list[str], context: Any, params: PgParams):
        """Start `dbt <args>` against `params` and return the invocation (stream it to get events).

        dbt_project/profiles.yml reads the connection from KAIROO_PG_* variables. dagster-dbt 0.29's
        `DbtCliResource.cli` has no environment parameter: it copies `os.environ` when it spawns dbt
        (and reads the profile in-process to build its adapter). So the variables are set only while
        `cli` starts the process and restored right after: nothing leaks into later steps or into
        another resource bound to another database in the same process.
        """
        with _scoped_environ(params.dbt_env()):
            return self.cli(args, context=context)


@contextmanager
def _scoped_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, old in saved.items():
            if old is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = old
