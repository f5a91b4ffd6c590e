"""Settings, connection URLs, and the switch from the embedded warehouse to a real server."""

from __future__ import annotations

import socket
import uuid

import psycopg
import pytest

from core.database import PgParams, bootstrap, connect, ensure_database, parse_url, warehouse_params
from core.settings import DEV_PII_KEY, get_settings


def test_defaults_are_embedded_and_marked(tmp_path):
    s = get_settings({"KAIROO_STATE_DIR": str(tmp_path)})
    assert s.embedded and s.database_url is None
    assert s.pii_key == DEV_PII_KEY and s.pii_key_is_dev
    assert s.dagster_home == tmp_path / "dagster"
    assert s.mlflow_tracking_uri == f"sqlite:///{tmp_path}/mlflow/mlflow.db"
    assert s.landing_url == str(tmp_path / "landing")


def test_each_default_is_replaced_by_one_variable(tmp_path):
    s = get_settings(
        {
            "KAIROO_STATE_DIR": str(tmp_path),
            "KAIROO_DATABASE_URL": "postgresql://u:p@db:5433/w",
            "KAIROO_LANDING_URL": "s3://bucket/landing",
            "KAIROO_PII_KEY": "k",
            "DAGSTER_HOME": "/srv/dagster",
            "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        }
    )
    assert not s.embedded and not s.pii_key_is_dev
    assert (s.landing_url, s.mlflow_tracking_uri, str(s.dagster_home)) == (
        "s3://bucket/landing",
        "http://mlflow:5000",
        "/srv/dagster",
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql://u:p%40ss@db.internal:5433/kairoo",
            PgParams("db.internal", 5433, "u", "p@ss", "kairoo"),
        ),
        ("postgresql+psycopg2://u@h/k", PgParams("h", 5432, "u", "", "k")),
        (
            "postgresql://postgres:@/postgres?host=/tmp/x",
            PgParams("/tmp/x", 5432, "postgres", "", "postgres"),
        ),
    ],
)
def test_parse_url(url, expected):
    assert parse_url(url) == expected


def test_parse_url_rejects_other_databases():
    with pytest.raises(ValueError, match="PostgreSQL URL"):
        parse_url("mysql://u@h/db")


def test_urls_round_trip_for_each_client():
    p = PgParams("/tmp/sock", 5432, "postgres", "", "kairoo")
    assert parse_url(p.conninfo()) == p
    assert p.sqlalchemy_url().startswith("postgresql+psycopg://")
    assert p.dbt_env()["KAIROO_PG_HOST"] == "/tmp/sock"


def test_embedded_warehouse_is_shared_and_bootstrapped(state_dir, pg_server):
    settings = get_settings({"KAIROO_STATE_DIR": str(state_dir)})
    first = warehouse_params(settings)
    second = warehouse_params(settings)  # joins the running server, does not start another
    assert first == second and first.dbname == "kairoo"
    bootstrap(first)
    bootstrap(first)  # idempotent
    with connect(first) as conn:
        schemas = {r[0] for r in conn.execute("select schema_name from information_schema.schemata")}
    assert {"raw", "pii_vault", "ops", "marts_build", "marts", "features", "ml"} <= schemas


def _server_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.mark.server
def test_database_url_switches_to_a_server():
    if not _server_answers():
        pytest.skip(
            "no PostgreSQL server answers at 127.0.0.1:5432 (the 'production' server of these machines)"
        )
    dbname = f"kairoo_ci_{uuid.uuid4().hex[:8]}"
    settings = get_settings({"KAIROO_DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{dbname}"})
    params = warehouse_params(settings)
    assert (params.host, params.port, params.dbname) == ("127.0.0.1", 5432, dbname)
    try:
        ensure_database(params)
        bootstrap(params)
        with connect(params) as conn:
            version = conn.execute("show server_version").fetchone()[0]
            assert conn.execute("select count(*) from ops.publish_log").fetchone()[0] == 0
        assert version  # a real server answered through the URL, not the embedded one
    finally:
        with psycopg.connect(params.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{dbname}" with (force)')
