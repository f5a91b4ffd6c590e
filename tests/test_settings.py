"""Settings passed explicitly win over the process environment, everywhere they are used.

Tests, benchmarks and tools build definitions for their own database, landing folder and model
registry while the shell may export production values; the explicit ones must be the ones used.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
import pytest

from core.settings import get_settings

CONFLICTING = {
    "KAIROO_DATABASE_URL": "postgresql://intruder@127.0.0.1:1/not_this_one",
    "MLFLOW_TRACKING_URI": "sqlite:////nonexistent/not-this-mlflow.db",
    "KAIROO_PII_KEY": "not-this-key",
    "KAIROO_LANDING_URL": "/nonexistent/not-this-landing",
    "KAIROO_STATE_DIR": "/nonexistent/not-this-state",
}


@pytest.fixture
def explicit(tmp_path: Path):
    return get_settings(
        {
            "KAIROO_STATE_DIR": str(tmp_path / "state"),
            "KAIROO_DATABASE_URL": "postgresql://kairoo@127.0.0.1:5432/explicit_db",
            "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
            "KAIROO_PII_KEY": "explicit-key",
            "KAIROO_LANDING_URL": str(tmp_path / "landing"),
        }
    )


def _resolved(defs: dg.Definitions) -> dict:
    """The resource values a step would see (EnvVars resolved against the process environment)."""
    resources = defs.resources or {}
    names = ("warehouse", "signals", "mlflow")
    with dg.build_resources({n: resources[n] for n in names}) as built:
        return {
            "database_url": built.warehouse.database_url,
            "state_dir": built.warehouse.state_dir,
            "pii_key": built.signals.pii_key,
            "landing_url": built.signals.landing_url,
            "tracking_uri": built.mlflow.tracking_uri,
        }


def test_explicit_settings_win_over_conflicting_environment(monkeypatch, explicit):
    from orchestration.definitions import build_definitions

    for name, value in CONFLICTING.items():
        monkeypatch.setenv(name, value)
    seen = _resolved(build_definitions(explicit))
    assert seen == {
        "database_url": explicit.database_url,
        "state_dir": str(explicit.state_dir),
        "pii_key": explicit.pii_key,
        "landing_url": explicit.landing_url,
        "tracking_uri": explicit.mlflow_tracking_uri,
    }


def test_secrets_from_the_environment_stay_out_of_the_config(monkeypatch, explicit):
    """When the environment is the source, the UI shows the variable's name, not the secret."""
    from runtime.resources import build_resources

    monkeypatch.setenv("KAIROO_PII_KEY", explicit.pii_key)
    monkeypatch.setenv("KAIROO_DATABASE_URL", explicit.database_url or "")
    resources = build_resources(explicit)
    assert isinstance(resources["signals"].pii_key, dg.EnvVar)
    assert isinstance(resources["warehouse"].database_url, dg.EnvVar)
    assert os.environ["KAIROO_PII_KEY"] == explicit.pii_key


def test_dbt_gets_the_connection_without_leaving_it_in_the_environment(monkeypatch):
    from runtime.resources import scoped_environ

    monkeypatch.delenv("KAIROO_PG_DBNAME", raising=False)
    monkeypatch.setenv("KAIROO_PG_HOST", "shell-host")
    with scoped_environ({"KAIROO_PG_DBNAME": "night_db", "KAIROO_PG_HOST": "night-host"}):
        assert os.environ["KAIROO_PG_DBNAME"] == "night_db"
        assert os.environ["KAIROO_PG_HOST"] == "night-host"
    assert "KAIROO_PG_DBNAME" not in os.environ
    assert os.environ["KAIROO_PG_HOST"] == "shell-host"
