"""The Great Expectations suites that gate publication of the marts.

Each suite names the dbt asset it guards (`[schema, table]`) and whether it checks only the night's
window (incremental facts: the night must not re-validate all of history) or the whole table.
Every suite here is required by the publication gate (core.publish): if one fails or does not run,
the dashboards keep yesterday's marts.

dbt tests already cover keys and accepted values model by model; these suites add what dbt does
not see well: volume against recent history, distribution bounds, and integrity across marts.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.windows import VOLUME_BASELINE_DAYS
from quality.suites import Expectation, Suite

# A product session longer than 6 hours is a broken client or a bad clock, not a user.
MAX_SESSION_SECONDS = 6 * 3600
# Tonight's volume may move, but 3x more or less than the trailing week means a broken feed.
VOLUME_RATIO_BOUNDS = (1 / 3, 3.0)


@dataclass(frozen=True)
class MartSuite:
    suite: Suite
    asset_key: tuple[str, ...]
    windowed: bool


_EVENT_TYPES = [
    "job_view", "job_save", "job_apply", "module_start", "module_progress", "module_complete", "tool_session",
]  # fmt: skip

fct_interactions_window = Suite(
    name="fct_interactions_window",
    schema="marts_build",
    table="fct_interactions",
    query="select * from {schema}.{table} where event_date between '{lookback_start}' and '{end}'",
    expectations=(
        Expectation("ExpectTableRowCountToBeBetween", min_value=1),
        Expectation("ExpectColumnValuesToNotBeNull", column="event_id"),
        Expectation("ExpectColumnValuesToBeUnique", column="event_id"),
        Expectation("ExpectColumnValuesToNotBeNull", column="user_key"),
        Expectation("ExpectColumnValuesToBeInSet", column="event_type", value_set=_EVENT_TYPES),
        Expectation(
            "ExpectColumnValuesToBeBetween", column="duration_s", min_value=0, max_value=MAX_SESSION_SECONDS
        ),
        Expectation("ExpectColumnValuesToBeBetween", column="progress_pct", min_value=0, max_value=100),
        Expectation("ExpectColumnValuesToBeBetween", column="grade", min_value=0, max_value=3),
    ),
)

# One row per day of the window: that day's events over the daily mean of the VOLUME_BASELINE_DAYS before it.
fct_interactions_volume = Suite(
    name="fct_interactions_volume",
    schema="marts_build",
    table="fct_interactions",
    query=f"""
        with daily as (
            select event_date, count(*)::float as events
            from {{schema}}.{{table}}
            where event_date between '{{start}}'::date - {VOLUME_BASELINE_DAYS} and '{{end}}'
            group by event_date
        )
        select
            d.event_date,
            d.events,
            d.events / nullif((
                select avg(h.events) from daily as h
                where h.event_date between d.event_date - {VOLUME_BASELINE_DAYS} and d.event_date - 1
            ), 0) as ratio_to_trailing_week
        from daily as d
        where d.event_date between '{{start}}' and '{{end}}'
    """,
    expectations=(
        Expectation("ExpectTableRowCountToBeBetween", min_value=1),
        Expectation(
            "ExpectColumnValuesToBeBetween",
            column="ratio_to_trailing_week",
            min_value=VOLUME_RATIO_BOUNDS[0],
            max_value=VOLUME_RATIO_BOUNDS[1],
        ),
    ),
)

# Integrity across marts: every event's user and item exists in the dimensions readers join to.
fct_interactions_integrity = Suite(
    name="fct_interactions_integrity",
    schema="marts_build",
    table="fct_interactions",
    query="""
        select f.event_id, f.user_key, f.item_type, f.item_id
        from {schema}.{table} as f
        left join {schema}.dim_users as u on u.user_key = f.user_key
        left join {schema}.dim_jobs as j on f.item_type = 'job' and j.job_id = f.item_id
        left join {schema}.dim_learning_modules as m on f.item_type = 'module' and m.module_id = f.item_id
        where f.event_date between '{lookback_start}' and '{end}'
          and (
              u.user_key is null
              or (f.item_type = 'job' and j.job_id is null)
              or (f.item_type = 'module' and m.module_id is null)
          )
    """,
    expectations=(Expectation("ExpectTableRowCountToEqual", value=0),),
)

mart_exec_kpis_window = Suite(
    name="mart_exec_kpis_daily_window",
    schema="marts_build",
    table="mart_exec_kpis_daily",
    query="select * from {schema}.{table} where kpi_date between '{start}' and '{end}'",
    expectations=(
        Expectation("ExpectTableRowCountToBeBetween", min_value=1),
        Expectation("ExpectColumnValuesToBeUnique", column="kpi_date"),
        Expectation("ExpectColumnValuesToNotBeNull", column="dau"),
        Expectation("ExpectColumnPairValuesAToBeGreaterThanB", column_A="wau", column_B="dau", or_equal=True),
        Expectation("ExpectColumnPairValuesAToBeGreaterThanB", column_A="mau", column_B="wau", or_equal=True),
        Expectation("ExpectColumnValuesToBeBetween", column="tool_adoption_rate", min_value=0, max_value=1),
        Expectation(
            "ExpectColumnValuesToBeBetween", column="learning_completion_rate", min_value=0, max_value=1
        ),
        Expectation("ExpectColumnValuesToBeBetween", column="d7_retention_rate", min_value=0, max_value=1),
    ),
)

fct_tool_usage_window = Suite(
    name="fct_tool_usage_daily_window",
    schema="marts_build",
    table="fct_tool_usage_daily",
    query="select * from {schema}.{table} where usage_date between '{lookback_start}' and '{end}'",
    expectations=(
        Expectation("ExpectCompoundColumnsToBeUnique", column_list=["usage_date", "tool_id"]),
        Expectation("ExpectColumnValuesToBeBetween", column="active_users", min_value=0),
        Expectation(
            "ExpectColumnValuesToBeBetween",
            column="avg_session_minutes",
            min_value=0,
            max_value=MAX_SESSION_SECONDS / 60,
        ),
    ),
)

dim_users_suite = Suite(
    name="dim_users_suite",
    schema="marts_build",
    table="dim_users",
    expectations=(
        Expectation("ExpectTableRowCountToBeBetween", min_value=1),
        Expectation("ExpectColumnValuesToBeUnique", column="user_key"),
        Expectation("ExpectColumnValuesToNotBeNull", column="user_key"),
        # Pseudonyms only: a raw identifier or an e-mail address here would be a PII leak.
        Expectation("ExpectColumnValuesToMatchRegex", column="user_key", regex="^[0-9a-f]{32}$"),
    ),
)


def _duplicates(columns: list[str]) -> Expectation:
    """One row per `columns` in the batch: the groups that occur more than once are the failures."""
    cols = ", ".join(columns)
    return Expectation(
        "UnexpectedRowsExpectation",
        description=f"one row per ({cols})",
        unexpected_rows_query=(
            f"select {cols}, count(*) as copies from {{batch}} group by {cols} having count(*) > 1"
        ),
    )


def _unknown(column: str, dim: str, key: str) -> Expectation:
    """Every `column` value of the batch exists as `dim.key`: the values that do not are the failures."""
    return Expectation(
        "UnexpectedRowsExpectation",
        description=f"{column} is a known {dim}.{key}",
        # GX leaves the batch unaliased when the query joins: `as r` is ours. A left join with `is null`
        # is planned as one hash anti-join over tonight's rows.
        unexpected_rows_query=(
            f"select distinct r.{column} from {{batch}} as r left join marts_build.{dim} as d"
            f" on d.{key} = r.{column} where d.{key} is null"
        ),
    )


def _recommendations_suite(table: str, item_dim: str, item_key: str) -> Suite:
    # Tonight's list per user: ranks 1..k once each, scored, for users and items that exist.
    # The batch is tonight's rows of the one table (an index range on as_of_date), and each cross-row
    # rule is one set-based query over it. The earlier batch joined dim_users and the item dimension
    # into every row and used ExpectCompoundColumnsToBeUnique: GX 1.24 re-ran that joined subquery in
    # each expectation and joined it to its own group-by once per metric, and at M (100k users, ~2M
    # rows a night) the suite ran for more than 15 minutes in one query (issue #12).
    return Suite(
        name=f"{table}_tonight",
        schema="marts_build",
        table=table,
        query="select * from {schema}.{table} where as_of_date = '{end}'",
        expectations=(
            Expectation("ExpectTableRowCountToBeBetween", min_value=1),
            _duplicates(["user_key", "rank"]),
            _duplicates(["user_key", "item_id"]),
            Expectation("ExpectColumnValuesToBeBetween", column="rank", min_value=1, max_value=100),
            Expectation("ExpectColumnValuesToNotBeNull", column="score"),
            _unknown("user_key", "dim_users", "user_key"),
            _unknown("item_id", item_dim, item_key),
        ),
    )


RECOMMENDATION_SUITES: list[MartSuite] = [
    MartSuite(
        _recommendations_suite("recommendations_jobs", "dim_jobs", "job_id"),
        ("marts_build", "recommendations"),
        windowed=True,
    ),
    MartSuite(
        _recommendations_suite("recommendations_modules", "dim_learning_modules", "module_id"),
        ("marts_build", "recommendations"),
        windowed=True,
    ),
]

MART_SUITES: list[MartSuite] = [
    MartSuite(fct_interactions_window, ("marts_build", "fct_interactions"), windowed=True),
    MartSuite(fct_interactions_volume, ("marts_build", "fct_interactions"), windowed=True),
    MartSuite(fct_interactions_integrity, ("marts_build", "fct_interactions"), windowed=True),
    MartSuite(mart_exec_kpis_window, ("marts_build", "mart_exec_kpis_daily"), windowed=True),
    MartSuite(fct_tool_usage_window, ("marts_build", "fct_tool_usage_daily"), windowed=True),
    MartSuite(dim_users_suite, ("marts_build", "dim_users"), windowed=False),
]
