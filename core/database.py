"""The warehouse connection: embedded PostgreSQL by default, a real server when configured.

Every process of a run (Dagster starts a process per step under the multiprocess executor) calls
`warehouse_params()` (or `embedded_params()` with an explicit folder). The embedded server is
started with `cleanup_mode=None` so that it outlives the process that started it and is shared by
all later ones; pgserver serialises start-up with an inter-process lock. `make stop` stops it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import psycopg

from core.settings import EMBEDDED_DB_NAME, Settings, get_settings

_ROOT = Path(__file__).resolve().parent.parent

# DDL run by `bootstrap`, in order. Each stage owns its own file; all are idempotent.
DDL_FILES: list[Path] = [
    _ROOT / "core" / "ddl.sql",
    _ROOT / "ingestion" / "ddl.sql",
    _ROOT / "ml" / "ddl.sql",
    _ROOT / "plans" / "ddl.sql",
    _ROOT / "monitoring" / "ddl.sql",
]


# The oldest PostgreSQL the warehouse runs on (server_version_num): 15 (the ingestion row rules have a
# path for servers without pg_input_is_valid, which arrived in 16; see ingestion/loader.py).
MIN_SERVER_VERSION = 150000


class UnsupportedServer(RuntimeError):
    """The warehouse server is older than the platform supports."""


def require_supported_server(version_num: int, version: str, where: str = "the warehouse") -> None:
    """Refuse a server older than PostgreSQL 15, naming the version found."""
    if version_num < MIN_SERVER_VERSION:
        raise UnsupportedServer(f"{where} runs PostgreSQL {version}; Kairoo needs PostgreSQL 15 or newer")


@dataclass(frozen=True)
class PgParams:
    """Connection parameters in the shape dbt's profile and libpq want."""

    host: str
    port: int
    user: str
    password: str
    dbname: str

    def conninfo(self, dbname: str | None = None) -> str:
        """A libpq URI (psycopg 3)."""
        db = dbname or self.dbname
        auth = quote(self.user) + (":" + quote(self.password) if self.password else "")
        if self.host.startswith("/"):
            return f"postgresql://{auth}@/{db}?host={quote(self.host)}&port={self.port}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{db}"

    def sqlalchemy_url(self, dbname: str | None = None) -> str:
        """SQLAlchemy 2.1 URL with the psycopg 3 driver named explicitly."""
        return self.conninfo(dbname).replace("postgresql://", "postgresql+psycopg://", 1)

    def dbt_env(self) -> dict[str, str]:
        """Environment variables read by dbt_project/profiles.yml."""
        return {
            "KAIROO_PG_HOST": self.host,
            "KAIROO_PG_PORT": str(self.port),
            "KAIROO_PG_USER": self.user,
            "KAIROO_PG_PASSWORD": self.password,
            "KAIROO_PG_DBNAME": self.dbname,
        }


def parse_url(url: str) -> PgParams:
    """Accept postgresql://, postgresql+psycopg://, postgresql+psycopg2:// and socket (?host=) URLs."""
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise ValueError(f"KAIROO_DATABASE_URL must be a PostgreSQL URL, got scheme {parts.scheme!r}")
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    port = int(query.get("port", [parts.port or 5432])[0])
    return PgParams(
        host=host,
        port=port,
        user=unquote(parts.username or "postgres"),
        password=unquote(parts.password or ""),
        dbname=(parts.path or "/postgres").lstrip("/") or "postgres",
    )


def start_embedded(pg_dir: Path, *, outlive_process: bool = True) -> PgParams:
    """Start (or join) the embedded PostgreSQL in `pg_dir` and return its server-level parameters.

    `outlive_process=False` (tests) stops the server when the last process using it exits.
    """
    import pgserver  # imported here: it is only needed for the embedded default

    pg_dir.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pg_dir, cleanup_mode=None if outlive_process else "stop")
    return parse_url(server.get_uri())


def stop_embedded(pg_dir: Path, timeout_s: float = 30.0) -> bool:
    """Stop the embedded server in `pg_dir` if it runs (make stop). Returns whether one was stopped."""
    import signal
    import time

    pid_file = pg_dir / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return False
    try:
        os.kill(pid, signal.SIGINT)  # PostgreSQL's "fast" shutdown: roll back, disconnect, stop
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    raise TimeoutError(f"embedded PostgreSQL (pid {pid}) in {pg_dir} did not stop within {timeout_s} s")


def warehouse_params(settings: Settings | None = None) -> PgParams:
    """Connection parameters of the warehouse database, starting the embedded server if needed."""
    settings = settings or get_settings()
    if settings.database_url:
        return parse_url(settings.database_url)
    return embedded_params(settings.pg_dir)


def embedded_params(pg_dir: Path) -> PgParams:
    """The warehouse database on the embedded server in `pg_dir` (started or joined, database created)."""
    server = start_embedded(pg_dir)
    params = PgParams(server.host, server.port, server.user, server.password, EMBEDDED_DB_NAME)
    ensure_database(params)
    return params


def ensure_database(params: PgParams) -> None:
    """Create the database if it is missing (the embedded server starts with only `postgres`)."""
    with psycopg.connect(params.conninfo("postgres"), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (params.dbname,)).fetchone()
        if not exists:
            conn.execute(f'create database "{params.dbname}"')


@contextmanager
def connect(params: PgParams | None = None, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A psycopg 3 connection to the warehouse; commits on success, rolls back on error."""
    params = params or warehouse_params()
    with psycopg.connect(params.conninfo(), autocommit=autocommit, application_name=_app_name()) as conn:
        yield conn


def relation_exists(conn: psycopg.Connection, relation: str) -> bool:
    """Whether `relation` ("schema.table") exists: the first nights run before dbt built every table."""
    row = conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()
    return bool(row and row[0])


def column_types(conn: psycopg.Connection, relation: str) -> dict[str, str]:
    """Column name -> `information_schema` data type of `relation` ("schema.table"), in column order
    (empty when it does not exist)."""
    schema, name = relation.split(".")
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns"
        " where table_schema = %s and table_name = %s order by ordinal_position",
        (schema, name),
    ).fetchall()
    return dict(rows)


def drop_days_before_newest(conn: psycopg.Connection, relation: str, date_column: str, days: int) -> None:
    """Retention: delete the rows of `relation` ("schema.table") dated more than `days` before its newest
    date. Relative to the newest date, not to the night being written, so that redrawing, re-scoring or
    re-publishing an old date never erases recent ones (dbt's `as_of_retention` keeps the same rule)."""
    from psycopg import sql

    table, col = sql.Identifier(*relation.split(".")), sql.Identifier(date_column)
    conn.execute(
        sql.SQL("delete from {t} where {c} < (select max({c}) from {t}) - %s::integer").format(
            t=table, c=col
        ),
        (days,),
    )


def bootstrap(params: PgParams | None = None) -> None:
    """Create schemas, roles and operational tables. Idempotent; run at the start of every night."""
    params = params or warehouse_params()
    with connect(params) as conn:
        version = conn.info.parameter_status("server_version") or str(conn.info.server_version)
        require_supported_server(conn.info.server_version, version, f"{params.host}:{params.port}")
        # Serialise concurrent bootstraps (several step processes may start at once).
        conn.execute("select pg_advisory_xact_lock(hashtext('kairoo.bootstrap'))")
        for path in DDL_FILES:
            if path.exists():  # a stage without tables of its own has no file
                conn.execute(path.read_text())


def _app_name() -> str:
    return os.environ.get("KAIROO_APP_NAME", "kairoo")


def analyze(params: PgParams, tables: list[str]) -> None:
    """Refresh planner statistics after a bulk load: rows for a new day lie past the histogram, the
    planner then estimates a single row and chooses nested loops for the night's queries."""
    from psycopg import sql

    with connect(params, autocommit=True) as conn:
        for table in tables:
            conn.execute(sql.SQL("analyze {}").format(sql.Identifier(*table.split("."))))
