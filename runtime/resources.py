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
import psycopg
from dagster_dbt import DbtCliResource
from pydantic import PrivateAttr

from core.database import PgParams, bootstrap, embedded_params, parse_url
from core.settings import Settings, get_settings
from ml.config import CandidateConfig, RankerConfig, RankingConfig
from runtime.dbt_project import kairoo_dbt
from runtime.partitions import PARTITION, RANGE_START, window_from_tags


class WarehouseUnreachableError(RuntimeError):
    """The warehouse URL (or the embedded server) does not answer; the message names the setting."""


class WarehouseResource(dg.ConfigurableResource):
    """The PostgreSQL warehouse. Empty `database_url` = the embedded server in `state_dir`/pg."""

    database_url: str = ""
    state_dir: str

    _params: PgParams | None = PrivateAttr(default=None)
    _day_lock: Any = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """A run's process holds the run's days for its lifetime: one run per day (core/night_lock.py)."""
        run = context.dagster_run
        if run is None or not ({PARTITION, RANGE_START} & set(run.tags)):
            return  # a sensor, a schedule, an unpartitioned run: no day to hold
        from core.night_lock import DayBusyError, days_between, hold_days

        start, end = window_from_tags(run.tags)
        try:
            self._day_lock = hold_days(self.params(), run.run_id, days_between(start, end))
        except DayBusyError as exc:
            # Refused before any step ran, so no step hook will record it: record it here.
            from core.run_failures import record_run_failure

            record_run_failure(self.params(), run_id=run.run_id, job_name=run.job_name,
                               partition_key=run.tags.get(PARTITION) or f"{start}..{end}",
                               failed_steps=["(day lock)"], message=str(exc))  # fmt: skip
            raise

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._day_lock is not None:
            self._day_lock.close()
            self._day_lock = None

    def params(self) -> PgParams:
        """Connection parameters; starts/joins the embedded server and bootstraps once per process."""
        if self._params is None:
            setting = "KAIROO_DATABASE_URL" if self.database_url else "KAIROO_STATE_DIR (embedded PostgreSQL)"
            try:
                if self.database_url:
                    params = parse_url(self.database_url)
                else:
                    params = embedded_params(Path(self.state_dir) / "pg")
                bootstrap(params)
            except psycopg.OperationalError as exc:
                # Found in seconds, before any step: say which setting points at the wrong place.
                raise WarehouseUnreachableError(
                    f"the warehouse does not answer: {exc} (setting: {setting})"
                ) from exc
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


class LlmResource(dg.ConfigurableResource):
    """The plans router's OpenAI-compatible endpoints (primary, secondary) and limits; empty: offline."""

    plans_provider: str = "offline"  # offline | llm
    primary_base_url: str = ""
    primary_model: str = ""
    primary_api_key: str = ""
    secondary_base_url: str = ""
    secondary_model: str = ""
    secondary_api_key: str = ""
    rpm: int = 500
    tpm: int = 2_000_000
    concurrency: int = 32


_RANKER = RankerConfig()
_CANDIDATES = CandidateConfig()


class RankingResource(dg.ConfigurableResource):
    """The one ranking config: what candidates, training, the promotion gate and scoring all read.

    Set it in the launchpad under `resources: ranking: config:` (e.g. `train_window_dates: 14`); the
    defaults are `ml.config`'s. A changed training window moves the dates candidates are drawn for, a
    changed margin or bias threshold reaches the gate, a changed model name the scoring.
    `CandidateConfig.retention_days` is not here: it is one number with dbt's `candidate_retention_days`
    (a test holds them equal), and a training window longer than it is refused.
    """

    # Ranker: LightGBM
    num_leaves: int = _RANKER.num_leaves
    learning_rate: float = _RANKER.learning_rate
    n_estimators: int = _RANKER.n_estimators
    min_child_samples: int = _RANKER.min_child_samples
    feature_fraction: float = _RANKER.feature_fraction
    bagging_fraction: float = _RANKER.bagging_fraction
    lambdarank_truncation_level: int = _RANKER.lambdarank_truncation_level
    early_stopping_rounds: int = _RANKER.early_stopping_rounds
    seed: int = _RANKER.seed
    num_threads: int = _RANKER.num_threads
    # Ranker: which dates and how many queries
    label_window_days: int = _RANKER.label_window_days
    validation_dates: int = _RANKER.validation_dates
    train_window_dates: int = _RANKER.train_window_dates
    max_train_queries: int = _RANKER.max_train_queries
    max_valid_queries: int = _RANKER.max_valid_queries
    predict_chunk_rows: int = _RANKER.predict_chunk_rows
    # The promotion gate
    model_name: str = _RANKER.model_name
    eval_k: int = _RANKER.eval_k
    bias_k: int = _RANKER.bias_k
    promotion_margin: float = _RANKER.promotion_margin
    baseline_margin: float = _RANKER.baseline_margin
    bias_threshold: float = _RANKER.bias_threshold
    min_group_queries: int = _RANKER.min_group_queries
    # Scale-out: a dask.distributed scheduler address for training and scoring
    dask_address: str | None = _RANKER.dask_address
    # Candidates
    jobs_per_user: int = _CANDIDATES.jobs_per_user
    modules_per_user: int = _CANDIDATES.modules_per_user
    max_level_above: int = _CANDIDATES.max_level_above
    max_level_below: int = _CANDIDATES.max_level_below
    location_filter: bool = _CANDIDATES.location_filter
    backfill_users: int = _CANDIDATES.backfill_users
    candidate_chunk_rows: int = _CANDIDATES.chunk_rows

    def config(self) -> RankingConfig:
        """The domain config (raises, naming the knobs, when the window outgrows candidate retention)."""
        values = self.model_dump()
        ranker = RankerConfig(**{f: values[f] for f in RankerConfig.__dataclass_fields__})
        candidates = CandidateConfig(
            **{f: values[f] for f in CandidateConfig.__dataclass_fields__ if f in values},
            chunk_rows=self.candidate_chunk_rows,
        )
        return RankingConfig(ranker=ranker, candidates=candidates)


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
        # Bound with its defaults on purpose: a launchpad value for one field rebuilds the resource from
        # the class defaults (seen with dagster 1.13: values bound here would silently fall back).
        "ranking": RankingResource(),
        "llm": LlmResource(
            plans_provider=settings.plans_provider,
            primary_base_url=settings.llm_primary_base_url or "",
            primary_model=settings.llm_primary_model or "",
            primary_api_key=_secret("KAIROO_LLM_PRIMARY_API_KEY", settings.llm_primary_api_key)
            or _secret("OPENAI_API_KEY", settings.llm_primary_api_key),
            secondary_base_url=settings.llm_secondary_base_url or "",
            secondary_model=settings.llm_secondary_model or "",
            secondary_api_key=_secret("KAIROO_LLM_SECONDARY_API_KEY", settings.llm_secondary_api_key),
            rpm=settings.llm_rpm,
            tpm=settings.llm_tpm,
            concurrency=settings.llm_concurrency,
        ),
        "dbt": KairooDbtResource(
            project_dir=kairoo_dbt,
            # The dbt beside this interpreter (the code server's PATH need not include the venv), in
            # the wrapper that ends it with the night's process (runtime/dbt_child.py).
            dbt_executable=str(Path(sys.executable).with_name("kairoo-dbt")),
            profiles_dir=str(kairoo_dbt.project_dir),
            target="embedded" if settings.embedded else "server",
        ),
    }


EXECUTORS = ("in_process", "multiprocess", "k8s")


def executor_for(settings: Settings | None = None) -> dg.ExecutorDefinition:
    """In-process by default: on 2 cores a step process costs ~7 s of start-up (stack notes).

    `k8s` (production, deploy/helm): `k8s_job_executor`, one pod per step, sized by the steps'
    `dagster-k8s/config` tags (runtime/k8s.py). dagster-k8s is imported only then, so a development
    code location never loads the Kubernetes client.
    """
    settings = settings or get_settings()
    if settings.executor == "k8s":
        from dagster_k8s import k8s_job_executor

        from runtime.k8s import k8s_executor_config

        return k8s_job_executor.configured(k8s_executor_config(), name="k8s_job_executor")
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    if settings.executor == "in_process":
        return dg.in_process_executor
    raise ValueError(f"KAIROO_EXECUTOR={settings.executor!r} is not one of {', '.join(EXECUTORS)}")


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
        with scoped_environ(params.dbt_env()):
            return self.cli(args, context=context)


@contextmanager
def scoped_environ(values: dict[str, str]) -> Iterator[None]:
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
