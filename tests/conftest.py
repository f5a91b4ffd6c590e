"""Shared fixtures: a real embedded PostgreSQL per test session, a fresh database per use.

The session gets its own state folder (never the developer's .kairoo), so tests and `make demo`
never touch each other's data.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import psycopg
import pytest

from core.database import PgParams, bootstrap, ensure_database, start_embedded

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Path into ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real public data not available here: {path} (see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="session")
def state_dir() -> Path:
    # Short path: the PostgreSQL unix socket path must stay under 107 bytes.
    path = Path(tempfile.mkdtemp(prefix="kt-", dir="/tmp"))
    return path


@pytest.fixture(scope="session")
def pg_server(state_dir: Path) -> PgParams:
    """Server-level parameters of the session's embedded PostgreSQL."""
    params = start_embedded(state_dir / "pg", outlive_process=False)
    yield params
    from core.database import stop_embedded

    stop_embedded(state_dir / "pg")


def make_database(server: PgParams, name: str) -> PgParams:
    """Drop and recreate database `t_<name>` on `server`, bootstrapped (schemas, roles, ops tables)."""
    name = re.sub(r"[^a-z0-9_]", "_", name.lower())[:50]
    params = PgParams(server.host, server.port, server.user, server.password, f"t_{name}")
    with psycopg.connect(params.conninfo("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{params.dbname}" with (force)')
    ensure_database(params)
    bootstrap(params)
    return params


@pytest.fixture
def fresh_db(pg_server: PgParams, request: pytest.FixtureRequest) -> PgParams:
    """A new, bootstrapped database named after the test: isolated and inspectable after a failure."""
    return make_database(pg_server, request.node.name)


def pytest_configure(config: pytest.Config) -> None:
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "true")
