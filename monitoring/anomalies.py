"""Anomalies: does a day's volume, quarantine rate, KPI or plan cost look like its own history?

For the data team this answers "did something break upstream last night?" before a dashboard shows a
cliff. Every series is a daily number (rows delivered per source, share of rows quarantined per source,
each executive KPI, the day's LLM spend and plan count when the plans stage exists). A day is scored
against the days before it, in PostgreSQL (the series are read from ops and marts_build tables and never
leave the database):

- baseline: the median of the same weekday over the history window when it holds at least
  `min_weekday_points` of them (weekly seasonality: Mondays against Mondays), else the median of the last
  `baseline_days` days;
- scale: the median absolute deviation (MAD) of the last `baseline_days` days around their median, times
  1.4826 (a standard deviation for normal data), floored at `min_relative_scale` of the baseline and at
  `min_absolute_scale`, so a perfectly flat history does not turn a 1% move into an alarm;
- score = (value - baseline) / scale; |score| >= `warn_score` warns, >= `error_score` is an error;
- fewer than `min_history_days` days of history: level `insufficient_history`, which passes with the
  reason (a new source cannot be judged yet; it is not an alarm).

The design is the one Elementary and AWS Glue DQ use for volume monitors (robust score against ~2 weeks
of complete daily buckets, a minimum-history guard, warn and error levels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from core.database import PgParams, connect, relation_exists

LEVELS = ("ok", "warn", "error", "insufficient_history")

# Executive KPIs watched by default: the volumes a dashboard reader notices first.
DEFAULT_KPIS = (
    "dau",
    "job_views",
    "job_applications",
    "module_starts",
    "module_completions",
    "tool_active_users",
)


@dataclass(frozen=True)
class AnomalyConfig:
    """How far back to look and how far a day may stray before it warns or errors."""

    history_days: int = 28
    baseline_days: int = 14
    min_history_days: int = 7
    min_weekday_points: int = 3
    warn_score: float = 4.0
    error_score: float = 8.0
    min_relative_scale: float = 0.05
    min_absolute_scale: float = 1.0
    kpis: tuple[str, ...] = DEFAULT_KPIS

    def __post_init__(self) -> None:
        if not 0 < self.warn_score <= self.error_score:
            raise ValueError(f"anomaly levels: need 0 < warn_score <= error_score, got {self}")
        if self.min_history_days < 2 or self.baseline_days < self.min_history_days:
            raise ValueError(f"anomaly history: need 2 <= min_history_days <= baseline_days, got {self}")


@dataclass(frozen=True)
class Anomaly:
    """One scored (day, metric, series)."""

    as_of_date: date
    metric: str
    series: str
    value: float | None
    baseline: float | None
    mad: float | None
    score: float | None
    level: str
    reason: str
    history_days: int


def _kpi_columns(conn, wanted: tuple[str, ...]) -> list[str]:
    rows = conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'marts_build' and table_name = 'mart_exec_kpis_daily'"
    ).fetchall()
    present = {r[0] for r in rows}
    return [k for k in wanted if k in present]


def series_sql(conn, config: AnomalyConfig) -> str:
    """The union of every daily series available in this warehouse: (metric, series, day, value).

    Each branch reads a small table (the file manifest, a daily mart, the plans' call log), restricted to
    `%(first)s .. %(last)s`. A source's days start at its first delivery, so days before a source existed
    are not zeros.
    """
    branches = [
        # Rows delivered per source and delivery day; a day without any file counts 0 (a dropped day).
        """
        select 'source_volume' as metric, s.source as series, d.day::date as day,
               coalesce(sum(m.rows_loaded) filter (where m.status = 'loaded'), 0)::float8 as value
        from (select source, min(partition_date) as since from ops.file_manifest
              where partition_date is not null group by source) as s
        cross join lateral generate_series(greatest(s.since, %(first)s::date), %(last)s::date,
                                           interval '1 day') as d (day)
        left join ops.file_manifest as m on m.source = s.source and m.partition_date = d.day::date
        group by 1, 2, 3
        """,
        # Share of the day's rows that broke a rule (no rows read: no rate, nothing to judge).
        """
        select 'quarantine_rate', source, partition_date,
               sum(rows_quarantined)::float8 / nullif(sum(rows_read), 0)
        from ops.file_manifest
        where partition_date between %(first)s and %(last)s and status in ('loaded', 'rejected')
        group by 1, 2, 3
        having sum(rows_read) > 0
        """,
    ]
    if relation_exists(conn, "marts_build.mart_exec_kpis_daily"):
        for kpi in _kpi_columns(conn, config.kpis):
            branches.append(
                f"select 'kpi', '{kpi}', kpi_date, {kpi}::float8 from marts_build.mart_exec_kpis_daily "
                "where kpi_date between %(first)s and %(last)s"
            )
    if relation_exists(conn, "plans.llm_calls"):
        branches.append(
            "select 'plan_cost', 'cost_usd', as_of_date, sum(cost_usd)::float8 from plans.llm_calls "
            "where as_of_date between %(first)s and %(last)s group by 1, 2, 3"
        )
    if relation_exists(conn, "plans.plan_versions"):
        branches.append(
            "select 'plan_cost', 'plans', as_of_date, count(*)::float8 from plans.plan_versions "
            "where as_of_date between %(first)s and %(last)s group by 1, 2, 3"
        )
    return "\nunion all\n".join(f"({b.strip()})" for b in branches)


SCORE_SQL = """
with series as materialized (
{series}
),
targets as (
    select * from series
    where day between %(start)s and %(end)s and (%(metrics)s::text[] is null or metric = any(%(metrics)s))
),
stats as (
    select
        t.metric, t.series, t.day, t.value,
        h.n_history,
        h.dow_points,
        h.dow_median,
        h.recent_median,
        (
            select percentile_cont(0.5) within group (order by abs(r.value - h.recent_median))
            from series as r
            where r.metric = t.metric and r.series = t.series and r.value is not null
              and r.day < t.day and r.day >= t.day - %(baseline_days)s::int
        ) as recent_mad
    from targets as t
    cross join lateral (
        select
            count(*) filter (where r.day >= t.day - %(history_days)s::int) as n_history,
            count(*) filter (where extract(isodow from r.day) = extract(isodow from t.day)) as dow_points,
            percentile_cont(0.5) within group (order by r.value)
                filter (where extract(isodow from r.day) = extract(isodow from t.day)) as dow_median,
            percentile_cont(0.5) within group (order by r.value)
                filter (where r.day >= t.day - %(baseline_days)s::int) as recent_median
        from series as r
        where r.metric = t.metric and r.series = t.series and r.value is not null
          and r.day < t.day and r.day >= t.day - %(history_days)s::int
    ) as h
),
scored as (
    select
        *,
        case when dow_points >= %(min_weekday_points)s::int
            then dow_median else recent_median end as baseline,
        greatest(
            1.4826 * coalesce(recent_mad, 0),
            %(min_relative_scale)s::float8 * abs(
                case when dow_points >= %(min_weekday_points)s::int then dow_median else recent_median end
            ),
            %(min_absolute_scale)s::float8
        ) as scale
    from stats
)
select
    day, metric, series, value, baseline, recent_mad,
    case when n_history >= %(min_history_days)s::int and value is not null
        then (value - baseline) / scale end as score,
    n_history,
    dow_points >= %(min_weekday_points)s::int as by_weekday
from scored
order by day, metric, series
"""


# The series each gate judges (`monitoring.gates`: plan_cost on the plans gate, the rest on the marts'),
# each scored by its gate's review: the plans' after tonight's plans are written.
PLAN_METRICS = ("plan_cost",)
MART_METRICS = ("source_volume", "quarantine_rate", "kpi")


def score_days(
    params: PgParams,
    start: date,
    end: date,
    config: AnomalyConfig | None = None,
    metrics: tuple[str, ...] | None = None,
) -> list[Anomaly]:
    """Score every series (or only those of `metrics`) on each day of [start, end] against its own
    history (computed in PostgreSQL)."""
    config = config or AnomalyConfig()
    values = {
        **asdict(config),
        "start": start,
        "end": end,
        "first": date.fromordinal(start.toordinal() - config.history_days),
        "last": end,
        "metrics": list(metrics) if metrics is not None else None,
    }
    values.pop("kpis")
    with connect(params) as conn:
        sql = SCORE_SQL.format(series=series_sql(conn, config))
        rows = conn.execute(sql, values).fetchall()
    return [_classify(row, config) for row in rows]


def _classify(row: tuple, config: AnomalyConfig) -> Anomaly:
    day, metric, series, value, baseline, mad, score, n_history, by_weekday = row
    basis = "same-weekday median" if by_weekday else f"{config.baseline_days}-day median"
    if n_history < config.min_history_days:
        level = "insufficient_history"
        reason = f"{n_history} days of history < {config.min_history_days}: not judged yet"
    elif value is None:
        level, reason = "warn", "no value for the day"
    else:
        size = abs(score)
        level = "error" if size >= config.error_score else "warn" if size >= config.warn_score else "ok"
        limit = {"error": config.error_score, "warn": config.warn_score}.get(level)
        reason = (
            f"{value:g} vs {basis} {baseline:g} (MAD {mad or 0:g}, {n_history} days): score {score:+.1f}"
            + (f", |score| >= {limit:g}" if limit else "")
        )
    return Anomaly(
        day, metric, series, value, baseline, mad, score, level, reason, int(n_history)
    )  # fmt: skip


def record(
    params: PgParams, run_id: str, anomalies: list[Anomaly], metrics: tuple[str, ...] | None = None
) -> int:
    """Replace this run's rows for the scored days (of `metrics` only, when given) with `anomalies` (a
    re-run of a check is idempotent)."""
    if not anomalies:
        return 0
    days = sorted({a.as_of_date for a in anomalies})
    with connect(params) as conn:
        conn.execute(
            "delete from monitoring.anomaly_results where run_id = %(run)s and as_of_date = any(%(days)s)"
            " and (%(metrics)s::text[] is null or metric = any(%(metrics)s))",
            {"run": run_id, "days": days, "metrics": list(metrics) if metrics else None},
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into monitoring.anomaly_results (run_id, as_of_date, metric, series, value,"
                " baseline, mad, score, level, reason, history_days)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (run_id, a.as_of_date, a.metric, a.series, a.value, a.baseline, a.mad, a.score, a.level,
                     a.reason, a.history_days)
                    for a in anomalies
                ],
            )  # fmt: skip
    return len(anomalies)
