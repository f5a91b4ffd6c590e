"""What the boards show, as SQL over the published marts (run as `kairoo_reader`).

Every aggregate runs inside PostgreSQL over pre-aggregated marts (a few hundred rows per day at M
tier), so the SQL of a page takes milliseconds whatever the date range: what a page costs is drawing
it in the browser (see `boards.ui`). Functions take an open psycopg
connection and return plain typed values; the Streamlit layer (`boards.ui`) caches them. Ratios are
computed here from the exact counts, once, so the page and its tests agree on one definition.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import pandas as pd
import psycopg

ALL_USERS = "All users"
DIRECT = "direct"  # users no enterprise tenant employs (int_user_tenants)


class NotPublished(LookupError):
    """A table the page needs has not been published yet (no night has passed its checks)."""


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _tenant(segment: str) -> str | None:
    """The tenant filter of a segment: None = every user."""
    return None if segment == ALL_USERS else segment


def published(conn: psycopg.Connection, table: str) -> bool:
    """Whether `marts.<table>` exists and this role may read it."""
    row = conn.execute(
        "select to_regclass(%s) is not null and has_table_privilege(%s, 'select')",
        (f"marts.{table}", f"marts.{table}"),
    ).fetchone()
    return bool(row and row[0])


def require(conn: psycopg.Connection, *tables: str) -> None:
    """Raise NotPublished naming the first missing table."""
    for table in tables:
        if not published(conn, table):
            raise NotPublished(f"marts.{table} is not published yet: no night has passed its checks")


def one(conn: psycopg.Connection, sql: str, params: Any = None) -> tuple[Any, ...]:
    """The single row an aggregate query returns."""
    row = conn.execute(sql, params).fetchone()
    if row is None:
        raise LookupError(f"query returned no row: {sql.strip().splitlines()[0]}")
    return tuple(row)


def frame(
    conn: psycopg.Connection, sql: str, params: dict[str, Any] | None = None, *, exact: bool = False
) -> pd.DataFrame:
    """A query's rows as a DataFrame (column names from the cursor). `exact` keeps every value as
    PostgreSQL returned it (object columns: an integer column with nulls stays integers)."""
    cur = conn.execute(sql, params or {})
    columns = [c.name for c in cur.description or []]
    return pd.DataFrame(cur.fetchall(), columns=columns, dtype=object if exact else None)


# --- the banner every page carries -------------------------------------------------------------


@dataclass(frozen=True)
class Banner:
    """The data's as-of date and the latest night's gate verdict."""

    as_of_date: date | None  # latest day the published marts cover
    night_date: date | None  # latest night the observability marts know
    verdict: str | None  # pass | warn | block (None: no verdict published)
    run_id: str | None
    checks_passed: int | None
    checks_failed: int | None

    @property
    def stale(self) -> bool:
        """The latest night did not publish: the marts still show an earlier day."""
        return bool(self.night_date and self.as_of_date and self.night_date > self.as_of_date)


def banner(conn: psycopg.Connection) -> Banner:
    as_of = None
    if published(conn, "mart_exec_kpis_daily"):
        as_of = one(conn, "select max(kpi_date) from marts.mart_exec_kpis_daily")[0]
    if not published(conn, "mart_obs_nights"):
        return Banner(as_of, None, None, None, None, None)
    row = conn.execute(
        """
        select as_of_date, verdict, run_id, checks_passed, checks_failed
        from marts.mart_obs_nights
        order by as_of_date desc, run_id desc
        limit 1
        """
    ).fetchone()
    if row is None:
        return Banner(as_of, None, None, None, None, None)
    return Banner(as_of, row[0], row[1], row[2], row[3], row[4])


# --- executive dashboard -----------------------------------------------------------------------


@dataclass(frozen=True)
class ExecFilters:
    start: date
    end: date
    segment: str = ALL_USERS  # ALL_USERS, DIRECT or a tenant id


def exec_bounds(conn: psycopg.Connection) -> tuple[date, date]:
    """First and last day of the executive marts."""
    require(conn, "mart_tenant_activity_daily")
    lo, hi = one(conn, "select min(activity_date), max(activity_date) from marts.mart_tenant_activity_daily")
    if lo is None:
        raise NotPublished("marts.mart_tenant_activity_daily is empty")
    return lo, hi


def segments(conn: psycopg.Connection) -> list[str]:
    """The segment filter's choices: every user, direct users, then each enterprise tenant."""
    require(conn, "mart_tenant_activity_daily")
    rows = conn.execute(
        "select distinct tenant_id from marts.mart_tenant_activity_daily where tenant_id <> %s order by 1",
        (DIRECT,),
    ).fetchall()
    return [ALL_USERS, DIRECT, *(r[0] for r in rows)]


@dataclass(frozen=True)
class ExecFigures:
    """The executive dashboard's headline numbers for one filter."""

    dau: int  # on the range's last day
    wau: int
    mau: int
    job_views: int  # over the range
    job_saves: int
    job_applications: int
    module_starts: int
    module_completions: int
    learning_hours: float
    tool_sessions: int
    interview_coach_sessions: int

    @property
    def save_rate(self) -> float | None:
        """Saves per job view: the first step of the funnel."""
        return _ratio(self.job_saves, self.job_views)

    @property
    def apply_rate(self) -> float | None:
        """Applications per save: the second step."""
        return _ratio(self.job_applications, self.job_saves)

    @property
    def view_to_apply_rate(self) -> float | None:
        """Applications per job view: the whole funnel."""
        return _ratio(self.job_applications, self.job_views)

    @property
    def completion_rate(self) -> float | None:
        """Module completions per module start in the range."""
        return _ratio(self.module_completions, self.module_starts)

    def as_dict(self) -> dict[str, float | int | None]:
        out: dict[str, float | int | None] = asdict(self)
        for name in ("save_rate", "apply_rate", "view_to_apply_rate", "completion_rate"):
            out[name] = getattr(self, name)
        return out


def exec_figures(conn: psycopg.Connection, f: ExecFilters) -> ExecFigures:
    require(conn, "mart_tenant_activity_daily", "mart_tenant_tool_usage_daily")
    params = {"start": f.start, "end": f.end, "tenant": _tenant(f.segment)}
    activity = one(
        conn,
        """
        select
            coalesce(sum(dau) filter (where activity_date = %(end)s), 0),
            coalesce(sum(wau) filter (where activity_date = %(end)s), 0),
            coalesce(sum(mau) filter (where activity_date = %(end)s), 0),
            coalesce(sum(job_views), 0),
            coalesce(sum(job_saves), 0),
            coalesce(sum(job_applications), 0),
            coalesce(sum(module_starts), 0),
            coalesce(sum(module_completions), 0),
            coalesce(sum(learning_seconds), 0)
        from marts.mart_tenant_activity_daily
        where activity_date between %(start)s and %(end)s
          and (%(tenant)s::text is null or tenant_id = %(tenant)s::text)
        """,
        params,
    )
    tools = one(
        conn,
        """
        select
            coalesce(sum(sessions), 0),
            coalesce(sum(sessions) filter (where tool_id = 'interview_coach'), 0)
        from marts.mart_tenant_tool_usage_daily
        where usage_date between %(start)s and %(end)s
          and (%(tenant)s::text is null or tenant_id = %(tenant)s::text)
        """,
        params,
    )
    dau, wau, mau, views, saves, applications, starts, completions, learning_s = (int(v) for v in activity)
    return ExecFigures(
        dau=dau, wau=wau, mau=mau, job_views=views, job_saves=saves, job_applications=applications,
        module_starts=starts, module_completions=completions, learning_hours=learning_s / 3600.0,
        tool_sessions=int(tools[0]), interview_coach_sessions=int(tools[1]),
    )  # fmt: skip


def exec_trend(conn: psycopg.Connection, f: ExecFilters) -> pd.DataFrame:
    """One row per day of the range: active users, funnel and learning (zeros on quiet days)."""
    require(conn, "mart_tenant_activity_daily")
    return frame(
        conn,
        """
        with days as (
            select d::date as activity_date
            from generate_series(%(start)s::date, %(end)s::date, interval '1 day') as d
        ),
        totals as (
            select activity_date, sum(dau) as dau, sum(wau) as wau, sum(mau) as mau,
                   sum(job_views) as job_views, sum(job_saves) as job_saves,
                   sum(job_applications) as job_applications, sum(module_starts) as module_starts,
                   sum(module_completions) as module_completions, sum(learning_seconds) as learning_seconds
            from marts.mart_tenant_activity_daily
            where activity_date between %(start)s and %(end)s
              and (%(tenant)s::text is null or tenant_id = %(tenant)s::text)
            group by activity_date
        )
        select days.activity_date,
               coalesce(dau, 0)::int as dau, coalesce(wau, 0)::int as wau, coalesce(mau, 0)::int as mau,
               coalesce(job_views, 0)::int as job_views, coalesce(job_saves, 0)::int as job_saves,
               coalesce(job_applications, 0)::int as job_applications,
               coalesce(module_starts, 0)::int as module_starts,
               coalesce(module_completions, 0)::int as module_completions,
               coalesce(learning_seconds, 0)::float / 3600 as learning_hours
        from days left join totals using (activity_date)
        order by days.activity_date
        """,
        {"start": f.start, "end": f.end, "tenant": _tenant(f.segment)},
    )


def tool_trend(conn: psycopg.Connection, f: ExecFilters) -> pd.DataFrame:
    """Sessions per day and tool over the range."""
    require(conn, "mart_tenant_tool_usage_daily")
    return frame(
        conn,
        """
        select usage_date, tool_id, sum(sessions)::int as sessions, sum(active_users)::int as active_users
        from marts.mart_tenant_tool_usage_daily
        where usage_date between %(start)s and %(end)s
          and (%(tenant)s::text is null or tenant_id = %(tenant)s::text)
        group by usage_date, tool_id
        order by usage_date, tool_id
        """,
        {"start": f.start, "end": f.end, "tenant": _tenant(f.segment)},
    )


@dataclass(frozen=True)
class Mobility:
    """Workforce mobility of the selected tenants over the range."""

    headcount: int  # at the range's end (latest change on or before it, per department)
    hires: int
    terminations: int
    internal_moves: int  # department moves + promotions + lateral moves
    by_department: pd.DataFrame

    @property
    def attrition_rate(self) -> float | None:
        """Terminations in the range per employee at its end."""
        return _ratio(self.terminations, self.headcount)

    @property
    def internal_mobility_rate(self) -> float | None:
        """Internal moves in the range per employee at its end."""
        return _ratio(self.internal_moves, self.headcount)


def mobility(conn: psycopg.Connection, f: ExecFilters) -> Mobility:
    """Per department of the selected tenants; direct users have no employer, hence no mobility."""
    require(conn, "mart_workforce_mobility")
    by_department = frame(
        conn,
        """
        with scoped as (
            select * from marts.mart_workforce_mobility
            where (%(tenant)s::text is null or tenant_id = %(tenant)s::text)
              and %(tenant)s::text is distinct from %(direct)s
        ),
        latest as (
            select distinct on (tenant_id, department) tenant_id, department, headcount
            from scoped
            where snapshot_date <= %(end)s
            order by tenant_id, department, snapshot_date desc
        ),
        changes as (
            select tenant_id, department, sum(hires) as hires, sum(terminations) as terminations,
                   sum(moves_in) as moves_in, sum(moves_out) as moves_out, sum(promotions) as promotions,
                   sum(lateral_moves) as lateral_moves
            from scoped
            where snapshot_date between %(start)s and %(end)s
            group by tenant_id, department
        )
        select department,
               coalesce(sum(latest.headcount), 0)::int as headcount,
               coalesce(sum(changes.hires), 0)::int as hires,
               coalesce(sum(changes.terminations), 0)::int as terminations,
               coalesce(sum(changes.moves_in), 0)::int as moves_in,
               coalesce(sum(changes.moves_out), 0)::int as moves_out,
               coalesce(sum(changes.promotions), 0)::int as promotions,
               coalesce(sum(changes.lateral_moves), 0)::int as lateral_moves
        from latest full join changes using (tenant_id, department)
        group by department
        order by department
        """,
        {"start": f.start, "end": f.end, "tenant": _tenant(f.segment), "direct": DIRECT},
    )
    total = by_department.sum(numeric_only=True)

    def total_of(column: str) -> int:
        return int(total.get(column, 0)) if len(by_department) else 0

    return Mobility(
        headcount=total_of("headcount"),
        hires=total_of("hires"),
        terminations=total_of("terminations"),
        internal_moves=total_of("moves_in") + total_of("promotions") + total_of("lateral_moves"),
        by_department=by_department,
    )


# --- observability board ------------------------------------------------------------------------

# The observability marts (monitoring stage, #14), in the board's order, with what each section is.
OBS_SECTIONS: dict[str, str] = {
    "mart_obs_nights": "Nights: runs, verdicts, checks passed and failed",
    "mart_obs_quarantine": "Quarantine by night, source and rule",
    "mart_obs_drift": "Drift",
    "mart_obs_bias": "Bias",
    "mart_obs_anomalies": "Anomalies",
    "mart_obs_freshness": "Freshness",
    "mart_obs_models": "Model versions and promotion decisions",
    "mart_obs_plan_costs": "Plan costs, cache hits and fallbacks",
    "mart_obs_waivers": "Waivers in force",
}
OBS_NIGHTS = 14  # how many nights the board looks back
OBS_ROW_LIMIT = 500  # rows shown per section and night (the page says when a night has more)
# Where each mart keeps its night: the night's `as_of_date`, or the delivery day (`partition_date`) for
# quarantine and freshness. A mart without either (waivers in force) is the state now, not a night's.
OBS_DAY_COLUMNS = ("as_of_date", "partition_date")

# The board's 14-night trend: per section, what a data team counts each night (SQL aggregates over
# that night's rows of the mart; every measure of a published mart is shown for every night it has rows).
OBS_TRENDS: dict[str, dict[str, str]] = {
    "mart_obs_nights": {
        "runs": "count(*)",
        "runs blocked": "count(*) filter (where verdict = 'block')",
        "checks failed": "sum(checks_failed)",
    },
    "mart_obs_quarantine": {
        "rules broken": "count(*)",
        "rows quarantined": "sum(rows_quarantined)",
        "files rejected": "sum(files_rejected)",
    },
    "mart_obs_drift": {
        "columns tested": "count(*)",
        "drifted": "count(*) filter (where drifted)",
        "gating": "count(*) filter (where gating)",
    },
    "mart_obs_bias": {
        "group metrics": "count(*)",
        "failed": "count(*) filter (where passed is false)",
    },
    "mart_obs_anomalies": {
        "series scored": "count(*)",
        "warn": "count(*) filter (where level = 'warn')",
        "error": "count(*) filter (where level = 'error')",
    },
    "mart_obs_freshness": {
        "sources loaded": "count(*)",
        "rows loaded": "sum(rows_loaded)",
        "most hours late": "max(hours_after_day_end)",
    },
    "mart_obs_models": {
        "versions served": "count(*)",
        "promotions": "count(*) filter (where promoted)",
    },
    "mart_obs_plan_costs": {
        "plans written": "sum(plans_written)",
        "fallbacks": "sum(fallbacks)",
        "cost usd": "sum(cost_usd)",
    },
}


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    rows = conn.execute(
        """
        select column_name from information_schema.columns
        where table_schema = 'marts' and table_name = %s
        order by ordinal_position
        """,
        (table,),
    ).fetchall()
    return [r[0] for r in rows]


def obs_day_column(columns: list[str]) -> str | None:
    """The column that names a mart row's night, if the mart has one."""
    return next((c for c in OBS_DAY_COLUMNS if c in columns), None)


def obs_days(conn: psycopg.Connection, nights: int = OBS_NIGHTS) -> list[date]:
    """The nights the board offers, newest first: the last `nights` days any published observability
    mart has rows for (verdicts lag the deliveries by a night, so one mart alone may miss the newest)."""
    from psycopg import sql

    parts = []
    for table in OBS_SECTIONS:
        if published(conn, table) and (day := obs_day_column(_columns(conn, table))):
            parts.append(
                sql.SQL("select {d} as day from {t}").format(
                    d=sql.Identifier(day), t=sql.Identifier("marts", table)
                )
            )
    if not parts:
        return []
    query = sql.SQL(
        "select distinct day from ({u}) as days where day is not null order by day desc limit %(nights)s"
    ).format(u=sql.SQL(" union all ").join(parts))
    return [r[0] for r in conn.execute(query, {"nights": nights}).fetchall()]


def obs_rows(
    conn: psycopg.Connection, table: str, night: date | None, limit: int = OBS_ROW_LIMIT
) -> pd.DataFrame:
    """One night's rows of one observability mart, in a stable order, at most `limit` + 1 rows (the
    extra row only tells the page that the night has more than it shows).

    The night is the mart's `as_of_date`, or the delivery day (`partition_date`) for quarantine and
    freshness; a mart without either (waivers in force) is shown whole whatever the night. Only the
    marts listed in OBS_SECTIONS may be named, and only when published.
    """
    from psycopg import sql

    if table not in OBS_SECTIONS:
        raise ValueError(f"{table} is not an observability mart (one of {sorted(OBS_SECTIONS)})")
    require(conn, table)
    columns = _columns(conn, table)
    day = obs_day_column(columns)
    target = sql.Identifier("marts", table)
    rest = sql.SQL(", ").join(sql.Identifier(c) for c in columns if c != day)
    if day:
        query = sql.SQL("select * from {t} where {d} = %(night)s order by {rest} limit %(limit)s").format(
            t=target, d=sql.Identifier(day), rest=rest
        )
    else:
        query = sql.SQL("select * from {t} order by {rest} limit %(limit)s").format(t=target, rest=rest)
    return frame(conn, query.as_string(conn), {"night": night, "limit": limit + 1}, exact=True)


def obs_trend(conn: psycopg.Connection, days: list[date]) -> pd.DataFrame:
    """The OBS_TRENDS measures of every published mart over `days`: one row per (section, measure),
    one column per night (ISO date, oldest first), each cell PostgreSQL's exact value (numeric); a
    night the mart has no row for is empty (None)."""
    from psycopg import sql

    nights = sorted(days)
    labels = [n.isoformat() for n in nights]
    shown: list[str] = []
    parts = []
    for table, measures in OBS_TRENDS.items():
        if not published(conn, table) or not (day := obs_day_column(_columns(conn, table))):
            continue
        shown.append(table)
        for measure, aggregate in measures.items():
            parts.append(
                sql.SQL(
                    "select {t_name} as mart, {m} as measure, {d} as day, ({a})::numeric as value"
                    " from {t} where {d} = any(%(days)s) group by {d}"
                ).format(
                    t_name=sql.Literal(table),
                    m=sql.Literal(measure),
                    d=sql.Identifier(day),
                    a=sql.SQL(aggregate),
                    t=sql.Identifier("marts", table),
                )
            )
    values: dict[tuple[str, str, date], Any] = {}
    if parts and nights:
        query = sql.SQL(" union all ").join(parts)
        for mart, measure, day, value in conn.execute(query, {"days": nights}).fetchall():
            values[(mart, measure, day)] = value
    rows = [
        {"section": OBS_SECTIONS[t], "measure": m}
        | {label: values.get((t, m, n)) for n, label in zip(nights, labels, strict=True)}
        for t in shown
        for m in OBS_TRENDS[t]
    ]
    return pd.DataFrame(rows, columns=["section", "measure", *labels], dtype=object)


def obs_nights(conn: psycopg.Connection, nights: int = OBS_NIGHTS) -> pd.DataFrame:
    """One row per night, oldest first: the verdict and its checks (the board's trend)."""
    require(conn, "mart_obs_nights")
    return frame(
        conn,
        """
        select as_of_date, run_id, verdict, checks_passed, checks_failed
        from marts.mart_obs_nights
        where as_of_date > (select max(as_of_date) from marts.mart_obs_nights) - %(nights)s
        order by as_of_date, run_id
        """,
        {"nights": nights},
    )
