"""Shared fixtures: a real embedded PostgreSQL per test session, a fresh database per use.

The session gets its own state folder (never the developer's .kairoo), so tests and `make demo`
never touch each other's data. A test (or module) marked `server` runs twice: on the embedded server
and on the PostgreSQL at 127.0.0.1:5432 (the 15.x server these machines and CI run; skipped with the
reason when it does not answer). On that shared server every database is named `SHARED_DB_PREFIX`…
and dropped when the session ends.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import psycopg
import pytest

from core.database import PgParams, bootstrap, ensure_database, parse_url, start_embedded

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# Per process, so that two sessions on the shared server never drop each other's databases.
SHARED_DB_PREFIX = f"ingest_{os.getpid()}_"


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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`server` tests run on each server: the embedded one and the shared 15.x one.

    The 15.x variant is also `slow`: `make test-fast` (-m "not slow") stays on the embedded server.
    """
    if metafunc.definition.get_closest_marker("server") and "pg_server" in metafunc.fixturenames:
        variants = ["embedded", pytest.param("pg15", marks=pytest.mark.slow)]
        metafunc.parametrize("pg_server", variants, indirect=True, scope="session")


@pytest.fixture(scope="session")
def embedded_server(state_dir: Path) -> PgParams:
    """Server-level parameters of the session's embedded PostgreSQL."""
    params = start_embedded(state_dir / "pg", outlive_process=False)
    yield params
    from core.database import stop_embedded

    stop_embedded(state_dir / "pg")


@pytest.fixture(scope="session")
def shared_server() -> PgParams:
    """The PostgreSQL 15.x server at 127.0.0.1:5432 (skip with the reason when it does not answer)."""
    server = parse_url(SHARED_SERVER)
    try:
        psycopg.connect(server.conninfo(), connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"the PostgreSQL server at 127.0.0.1:5432 does not answer: {exc}".strip())
    yield server
    with psycopg.connect(server.conninfo(), autocommit=True) as conn:
        names = conn.execute("select datname from pg_database where datname like %s",
                             (SHARED_DB_PREFIX + "%",)).fetchall()  # fmt: skip
        for (name,) in names:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> PgParams:
    """The server a test runs on: embedded, or (`server` tests, second variant) the shared 15.x one.

    A plain lookup, so switching between the variants never stops either server.
    """
    if getattr(request, "param", "embedded") == "pg15":
        return request.getfixturevalue("shared_server")
    return request.getfixturevalue("embedded_server")


def database_name(server: PgParams, name: str) -> str:
    """`t_<name>` on the embedded server, `<SHARED_DB_PREFIX><name>` on the shared one."""
    name = re.sub(r"[^a-z0-9_]", "_", name.lower())
    if server.host.startswith("/"):
        return f"t_{name[:50]}"
    return f"{SHARED_DB_PREFIX}{name}"[:63]


def make_database(server: PgParams, name: str) -> PgParams:
    """Drop and recreate a database named after `name` on `server`, bootstrapped (schemas, roles, ops)."""
    params = PgParams(server.host, server.port, server.user, server.password, database_name(server, name))
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
