"""The one place that reads the environment.

Every default is embedded so a fresh machine needs nothing but Python; production replaces each
default with one environment variable:

| what                | variable               | embedded default                                 |
|---------------------|------------------------|--------------------------------------------------|
| state folder        | KAIROO_STATE_DIR       | <repo>/.kairoo                                   |
| warehouse           | KAIROO_DATABASE_URL    | PostgreSQL from the pgserver wheel in the state  |
| landing files       | KAIROO_LANDING_URL     | <state>/landing (any fsspec URL: s3://...)       |
| pseudonymization    | KAIROO_PII_KEY         | a development key, marked as such                |
| Dagster instance    | DAGSTER_HOME           | <state>/dagster (SQLite)                         |
| model registry      | MLFLOW_TRACKING_URI    | sqlite:///<state>/mlflow/mlflow.db               |
| partitions          | KAIROO_PARTITION_START | 2026-01-01                                       |
| executor            | KAIROO_EXECUTOR        | in_process (multiprocess on a server; k8s: pods) |
| mapping folders     | KAIROO_MAPPING_DIRS    | none (only ingestion/mappings/); `:`-separated   |
| boards' reader      | KAIROO_READER_URL      | the warehouse as kairoo_reader (no password)     |
| review decisions    | KAIROO_REVIEWER_URL    | the warehouse as kairoo_reviewer                 |
| plan provider       | KAIROO_PLANS_PROVIDER  | offline (`llm`: the router's chain below)        |
| primary LLM         | KAIROO_LLM_PRIMARY_BASE_URL, _MODEL, _API_KEY | none (key: or OPENAI_API_KEY)  |
| secondary LLM       | KAIROO_LLM_SECONDARY_BASE_URL, _MODEL, _API_KEY | none                       |
| LLM rate limits     | KAIROO_LLM_RPM, _TPM, _CONCURRENCY | 500, 2000000, 32                          |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Marked so that no one mistakes it for a secret: production must set KAIROO_PII_KEY.
DEV_PII_KEY = "kairoo-DEVELOPMENT-ONLY-pseudonymization-key"

EMBEDDED_DB_NAME = "kairoo"


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    database_url: str | None  # None means: the embedded pgserver in state_dir
    landing_url: str
    pii_key: str
    dagster_home: Path
    mlflow_tracking_uri: str
    mlflow_artifact_root: str
    partition_start: str
    executor: str
    mapping_dirs: tuple[Path, ...] = ()  # a team's own ingestion mappings, searched before the package's
    extra: dict[str, str] = field(default_factory=dict)
    # The boards connect with the least privilege they need: None means the warehouse's server and
    # database as the role itself without a password (the embedded server trusts local sockets);
    # production sets URLs that carry each role's secret.
    reader_url: str | None = None
    reviewer_url: str | None = None
    # Plans (#13): which provider writes plans, and the OpenAI-compatible endpoints of the router's chain.
    plans_provider: str = "offline"
    llm_primary_base_url: str | None = None
    llm_primary_model: str | None = None
    llm_primary_api_key: str | None = field(default=None, repr=False)  # a secret: never printed
    llm_secondary_base_url: str | None = None
    llm_secondary_model: str | None = None
    llm_secondary_api_key: str | None = field(default=None, repr=False)
    llm_rpm: int = 500
    llm_tpm: int = 2_000_000
    llm_concurrency: int = 32

    @property
    def embedded(self) -> bool:
        """True when the warehouse is the embedded PostgreSQL (development, demo, tests)."""
        return self.database_url is None

    @property
    def pg_dir(self) -> Path:
        return self.state_dir / "pg"

    @property
    def pii_key_is_dev(self) -> bool:
        return self.pii_key == DEV_PII_KEY


def get_settings(env: dict[str, str] | None = None) -> Settings:
    """Read settings from the environment (or an explicit mapping, for tests)."""
    env = dict(os.environ if env is None else env)
    state_dir = Path(env.get("KAIROO_STATE_DIR") or REPO_ROOT / ".kairoo").resolve()
    mlflow_dir = state_dir / "mlflow"
    return Settings(
        state_dir=state_dir,
        database_url=env.get("KAIROO_DATABASE_URL") or None,
        landing_url=env.get("KAIROO_LANDING_URL") or str(state_dir / "landing"),
        pii_key=env.get("KAIROO_PII_KEY") or DEV_PII_KEY,
        dagster_home=Path(env.get("DAGSTER_HOME") or state_dir / "dagster"),
        mlflow_tracking_uri=env.get("MLFLOW_TRACKING_URI") or f"sqlite:///{mlflow_dir / 'mlflow.db'}",
        mlflow_artifact_root=env.get("KAIROO_MLFLOW_ARTIFACTS") or str(mlflow_dir / "artifacts"),
        partition_start=env.get("KAIROO_PARTITION_START") or "2026-01-01",
        executor=env.get("KAIROO_EXECUTOR") or "in_process",
        mapping_dirs=tuple(Path(p) for p in (env.get("KAIROO_MAPPING_DIRS") or "").split(os.pathsep) if p),
        reader_url=env.get("KAIROO_READER_URL") or None,
        reviewer_url=env.get("KAIROO_REVIEWER_URL") or None,
        plans_provider=env.get("KAIROO_PLANS_PROVIDER") or "offline",
        llm_primary_base_url=env.get("KAIROO_LLM_PRIMARY_BASE_URL") or env.get("OPENAI_BASE_URL") or None,
        llm_primary_model=env.get("KAIROO_LLM_PRIMARY_MODEL") or None,
        llm_primary_api_key=env.get("KAIROO_LLM_PRIMARY_API_KEY") or env.get("OPENAI_API_KEY") or None,
        llm_secondary_base_url=env.get("KAIROO_LLM_SECONDARY_BASE_URL") or None,
        llm_secondary_model=env.get("KAIROO_LLM_SECONDARY_MODEL") or None,
        llm_secondary_api_key=env.get("KAIROO_LLM_SECONDARY_API_KEY") or None,
        llm_rpm=int(env.get("KAIROO_LLM_RPM") or 500),
        llm_tpm=int(env.get("KAIROO_LLM_TPM") or 2_000_000),
        llm_concurrency=int(env.get("KAIROO_LLM_CONCURRENCY") or 32),
    )
