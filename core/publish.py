"""Write-audit-publish: the only way data reaches the `marts` schema that dashboards read.

dbt and ranking write the night's tables into `marts_build` (write); dbt tests and Great Expectations
suites check them there, and the GX runner records each suite's verdict in `ops.quality_results`
(audit: dbt tests are Dagster checks of the same run, a failing one stops the night); `publish` then
copies them into `marts` in ONE transaction, and only when every required suite of this run passed
(publish). Readers therefore see either yesterday's marts or tonight's, never a mix and never data
that failed a check. PostgreSQL's MVCC makes the swap atomic: readers keep their snapshot and
`delete` + `insert` takes no exclusive lock, so dashboards are never blocked mid-refresh.

Incremental facts are published by their date window, so the nightly cost follows the day's data,
not history; after failed nights the window reaches back to the last published day so nothing is
skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import psycopg
from psycopg import sql

from core.database import PgParams, column_types, connect, drop_days_before_newest

BUILD_SCHEMA = "marts_build"
PUBLISHED_SCHEMA = "marts"
READER_ROLES = ("kairoo_reader", "kairoo_analyst")


@dataclass(frozen=True)
class PublishSpec:
    """How one table is published: whole (`full`) or by its date column (`window`).

    `retention_days` (window only): published dates more than this many days before the newest one
    are deleted in the same transaction, for tables whose history is not worth keeping forever.
    """

    table: str
    mode: Literal["full", "window"] = "full"
    date_column: str | None = None
    retention_days: int | None = None

    def __post_init__(self) -> None:
        if self.mode == "window" and not self.date_column:
            raise ValueError(f"{self.table}: window publication needs a date_column")
        if self.retention_days is not None and (self.mode != "window" or self.retention_days < 1):
            raise ValueError(f"{self.table}: retention needs a window publication and >= 1 day")


@dataclass(frozen=True)
class PublishedTable:
    table: str
    mode: str  # full | window | created
    window_start: date | None
    window_end: date | None
    rows: int


class PublishBlocked(RuntimeError):
    """Raised when a required check failed or did not run: the published marts stay as they were."""


def gate_failures(conn: psycopg.Connection, run_id: str, required_suites: list[str]) -> list[str]:
    """Names of required suites that did not pass in this run (failed, or never evaluated)."""
    rows = conn.execute(
        """
        select suite, bool_and(success) from ops.quality_results
        where run_id = %s and suite = any(%s) group by suite
        """,
        (run_id, required_suites),
    ).fetchall()
    verdicts: dict[str, bool] = dict(rows)
    problems = []
    for suite in required_suites:
        if suite not in verdicts:
            problems.append(f"{suite} (not evaluated in run {run_id})")
        elif not verdicts[suite]:
            problems.append(f"{suite} (failed)")
    return problems


def publish(
    params: PgParams,
    specs: list[PublishSpec],
    *,
    run_id: str,
    partition_key: str | None,
    window: tuple[date, date] | None,
    required_suites: list[str],
) -> list[PublishedTable]:
    """Publish `specs` from marts_build to marts atomically, after the gate. `window=None` = everything."""
    with connect(params) as conn:
        # One publisher at a time; a second one waits rather than interleaving tables.
        conn.execute("select pg_advisory_xact_lock(hashtext('kairoo.publish'))")
        problems = gate_failures(conn, run_id, required_suites)
        if problems:
            raise PublishBlocked("marts not published; checks not passed: " + "; ".join(problems))
        published = [_publish_table(conn, spec, window) for spec in specs]
        for role in READER_ROLES:
            conn.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(
                    sql.Identifier(PUBLISHED_SCHEMA), sql.Identifier(role)
                )
            )
        for p in published:
            conn.execute(
                """
                insert into ops.publish_log
                    (run_id, partition_key, table_name, mode, window_start, window_end, rows_published)
                values (%s, %s, %s, %s, %s, %s, %s)
                """,
                (run_id, partition_key, p.table, p.mode, p.window_start, p.window_end, p.rows),
            )
    return published


def _columns(conn: psycopg.Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return list(column_types(conn, f"{schema}.{table}").items())


def catch_up_start(last_published_end: date | None, requested_start: date) -> date:
    """Start of the window to publish: reach back over nights that failed to publish."""
    if last_published_end is None:
        return requested_start
    return min(requested_start, last_published_end + timedelta(days=1))


def _publish_table(
    conn: psycopg.Connection, spec: PublishSpec, window: tuple[date, date] | None
) -> PublishedTable:
    build_cols = _columns(conn, BUILD_SCHEMA, spec.table)
    if not build_cols:
        raise PublishBlocked(f"{BUILD_SCHEMA}.{spec.table} does not exist: nothing to publish")
    src = sql.Identifier(BUILD_SCHEMA, spec.table)
    dst = sql.Identifier(PUBLISHED_SCHEMA, spec.table)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c, _ in build_cols)

    if _columns(conn, PUBLISHED_SCHEMA, spec.table) != build_cols:
        # First publication, or the contract changed: replace the table (still inside the transaction).
        conn.execute(sql.SQL("drop table if exists {}").format(dst))
        conn.execute(sql.SQL("create table {} (like {} including all)").format(dst, src))
        cur = conn.execute(sql.SQL("insert into {} ({}) select {} from {}").format(dst, cols, cols, src))
        _retain(conn, spec)
        return PublishedTable(spec.table, "created", None, window[1] if window else None, cur.rowcount)

    if spec.mode == "full" or window is None:
        conn.execute(sql.SQL("delete from {}").format(dst))
        cur = conn.execute(sql.SQL("insert into {} ({}) select {} from {}").format(dst, cols, cols, src))
        return PublishedTable(spec.table, "full", None, window[1] if window else None, cur.rowcount)

    (last,) = conn.execute(
        "select max(window_end) from ops.publish_log where table_name = %s",
        (spec.table,),
    ).fetchone() or (None,)
    start = catch_up_start(last, window[0])
    end = window[1]
    assert spec.date_column, "a window spec names its date column (checked in PublishSpec)"
    col = sql.Identifier(spec.date_column)
    conn.execute(sql.SQL("delete from {} where {} between %s and %s").format(dst, col), (start, end))
    cur = conn.execute(
        sql.SQL("insert into {} ({}) select {} from {} where {} between %s and %s").format(
            dst, cols, cols, src, col
        ),
        (start, end),
    )
    _retain(conn, spec)
    return PublishedTable(spec.table, "window", start, end, cur.rowcount)


def _retain(conn: psycopg.Connection, spec: PublishSpec) -> None:
    """The spec's retention on the published table (`drop_days_before_newest`), when it has one."""
    if spec.retention_days is not None and spec.date_column is not None:
        drop_days_before_newest(
            conn, f"{PUBLISHED_SCHEMA}.{spec.table}", spec.date_column, spec.retention_days
        )
