"""One run per day: a night holds its days in the warehouse for as long as any of its processes lives.

Two runs of one day (two schedules, a backfill over a scheduled night, two clicks on "materialize")
used to ingest and build at once; one failed inside dbt with `relation "job_skills" already exists`
(issue #11). Dagster's run coordinator queues runs that share a `dagster/partition` tag
(deploy/dagster*.yaml), but runs executed in process (the demo, tests, scripts) never meet a
coordinator, and a range run (backfill) carries no `dagster/partition` tag at all. So every process of
a run also takes a shared PostgreSQL advisory lock per day of its window, on a session named after
the run; a process of ANOTHER run finding any of those days held is refused, with the holder named.

Why session locks named after the run: all of a run's step processes may hold a day at once
(shared), any other run may not; the lock disappears with its session, so a killed run frees its
days without anyone cleaning up; `pg_stat_activity.application_name` names the holder.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import psycopg

from core.database import PgParams

# The first key of every day lock (two-key advisory locks: this namespace, the day's ordinal).
NAMESPACE = 1_1_2026
APP_PREFIX = "kairoo-night:"


# Key 0 (no day has ordinal 0) stands for the warehouse as a whole: nights of different days share
# every dbt relation, so two of them at once collide too; the day keys name what collided.
WAREHOUSE = 0


class DayBusyError(RuntimeError):
    """Another run is processing one of this run's days (or the warehouse)."""

    def __init__(self, run_id: str, held: dict[int, str]) -> None:
        self.run_id = run_id
        self.others = sorted(set(held.values()))
        days = {date.fromordinal(o): other for o, other in held.items() if o != WAREHOUSE}
        listing = ", ".join(f"{d.isoformat()} by run {other}" for d, other in sorted(days.items()))
        if not listing:
            listing = "the warehouse by run " + ", ".join(self.others)
        super().__init__(
            f"run {run_id} refused: another run is processing {listing}. One run per day, one night "
            "at a time: launch it again once that run has ended (or terminate that run)."
        )


def days_between(start: date, end: date) -> list[date]:
    return [date.fromordinal(o) for o in range(start.toordinal(), end.toordinal() + 1)]


def hold_days(params: PgParams, run_id: str, days: Iterable[date]) -> psycopg.Connection:
    """Take this run's days; the returned connection holds them until it is closed (or dies).

    Raises DayBusyError naming the other run when one holds any of the days.
    """
    days = sorted(set(days))
    app = (APP_PREFIX + run_id)[:63]
    conn = psycopg.connect(params.conninfo(), autocommit=True, application_name=app)
    try:
        with conn.transaction():
            # Check-then-take must be atomic against another run doing the same.
            conn.execute("select pg_advisory_xact_lock(hashtext('kairoo.night_lock'))")
            held = conn.execute(
                """
                select l.objid::int, a.application_name
                from pg_locks as l
                join pg_stat_activity as a on a.pid = l.pid
                where l.locktype = 'advisory' and l.granted and l.classid::int = %s
                    and l.objid::int = any(%s)
                    and l.database = (select oid from pg_database where datname = current_database())
                    and a.application_name <> %s
                """,
                (NAMESPACE, [WAREHOUSE, *(d.toordinal() for d in days)], app),
            ).fetchall()
            if held:
                raise DayBusyError(run_id, {o: name.removeprefix(APP_PREFIX) for o, name in held})
            for key in [WAREHOUSE, *(d.toordinal() for d in days)]:
                conn.execute("select pg_advisory_lock_shared(%s, %s)", (NAMESPACE, key))
    except BaseException:
        conn.close()
        raise
    return conn


def holders(params: PgParams, day: date) -> list[str]:
    """Run ids holding `day` now (for operators and tests)."""
    with psycopg.connect(params.conninfo(), autocommit=True) as conn:
        rows = conn.execute(
            """
            select distinct a.application_name from pg_locks as l join pg_stat_activity as a on a.pid = l.pid
            where l.locktype = 'advisory' and l.granted and l.classid::int = %s and l.objid::int = %s
                and l.database = (select oid from pg_database where datname = current_database())
            """,
            (NAMESPACE, day.toordinal()),
        ).fetchall()
    return sorted(name.removeprefix(APP_PREFIX) for (name,) in rows)


def live_runs(params: PgParams) -> set[str]:
    """Run ids with at least one live process holding days (the sign that a STARTED run is alive)."""
    with psycopg.connect(params.conninfo(), autocommit=True) as conn:
        rows = conn.execute(
            "select distinct application_name from pg_stat_activity where application_name like %s",
            (APP_PREFIX + "%",),
        ).fetchall()
    return {name.removeprefix(APP_PREFIX) for (name,) in rows}
