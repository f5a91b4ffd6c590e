"""Run a Suite with Great Expectations against PostgreSQL and keep the outcome as plain data."""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Any

from core import windows
from core.database import PgParams, connect
from core.transient import TransientDatabaseError, is_transient_message
from quality.suites import Suite

# How many failing values to keep per expectation: enough to recognise the problem in the UI.
SAMPLE_SIZE = 10
# A cross-row rule written as SQL over the batch ({batch}): duplicates, unknown references.
UNEXPECTED_ROWS = "unexpected_rows_expectation"


@dataclass(frozen=True)
class ExpectationOutcome:
    """The verdict of one expectation, with the evidence a data engineer needs to act on it."""

    expectation: str
    column: str | None
    success: bool
    observed_value: Any
    unexpected_count: int | None
    unexpected_percent: float | None  # GX reports a percent (0-100), not a fraction
    sample: list[Any]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class SuiteResult:
    suite: str
    target: str
    success: bool
    outcomes: list[ExpectationOutcome]

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: all {len(self.outcomes)} expectations passed on {self.target}"
        names = ", ".join(f"{o.expectation}({o.column or ''})" for o in self.failed)
        return f"{self.suite}: {len(self.failed)} of {len(self.outcomes)} failed on {self.target}: {names}"


def render_query(suite: Suite, start: date | None, end: date | None) -> str | None:
    """Fill the window placeholders of a query suite. An unset window means 'all of history'."""
    if suite.query is None:
        return None
    start = start or date(1900, 1, 1)
    query = suite.query.format(
        schema=suite.schema,
        table=suite.table,
        start=start.isoformat(),
        end=(end or date(9999, 12, 31)).isoformat(),
        lookback_start=(start - timedelta(days=windows.LOOKBACK_DAYS)).isoformat(),
    ).strip()
    # GX accepts only queries that start with SELECT; a CTE chain runs as a subquery.
    if not query.lower().startswith("select"):
        query = f"select * from ({query}) as suite_rows"
    return query


def run_suite(
    params: PgParams, suite: Suite, *, start: date | None = None, end: date | None = None
) -> SuiteResult:
    """Validate `suite` inside PostgreSQL. GX is imported here: it costs 7-16 s to import."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")  # an explicit mode: a stray ./gx folder would switch to files
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
    # add_sql, not add_postgres: the postgres source rejects socket URLs (no host), which the
    # embedded server uses. GX then warns that a PostgresDatasource "may be more appropriate"
    # whenever it creates its engine (lazily, up to the validation run): a deliberate choice, so that
    # one warning is silenced here and nowhere else.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="You are using a generic SQLDatasource")
        source = ctx.data_sources.add_sql("warehouse", connection_string=params.sqlalchemy_url())
        query = render_query(suite, start, end)
        asset: Any
        if query is None:
            asset = source.add_table_asset(suite.name, table_name=suite.table, schema_name=suite.schema)
        else:
            asset = source.add_query_asset(suite.name, query=query)
        batch = asset.add_batch_definition_whole_table("all")
        gx_suite = ctx.suites.add(gx.ExpectationSuite(name=suite.name))
        for exp in suite.expectations:
            gx_suite.add_expectation(getattr(gx.expectations, exp.kind)(**exp.kwargs))
        validation = gx.ValidationDefinition(data=batch, suite=gx_suite, name=suite.name)
        result = validation.run(result_format="SUMMARY")
    raise_if_transient([r.to_json_dict() for r in result.results])
    outcomes = [_outcome(r.to_json_dict()) for r in result.results]
    outcomes = [_with_unexpected_rows(params, o, query) for o in outcomes]
    return SuiteResult(suite=suite.name, target=suite.target, success=bool(result.success), outcomes=outcomes)


def raise_if_transient(results: list[dict[str, Any]]) -> None:
    """An expectation that could not run because the database went away is not a verdict on the data:
    GX reports it as a failed expectation with `exception_info`; raise it as the fault it is."""
    for d in results:
        info = json.dumps(d.get("exception_info") or {}, default=str)
        if '"raised_exception": true' in info and is_transient_message(info):
            raise TransientDatabaseError(f"{d['expectation_config']['type']} could not run: {info[:500]}")


def _outcome(d: dict[str, Any]) -> ExpectationOutcome:
    config = d["expectation_config"]
    kwargs = {k: v for k, v in config["kwargs"].items() if k != "batch_id"}
    res = d.get("result") or {}
    if config["type"] == UNEXPECTED_ROWS:
        # Its observed value is the number of rows its query returned: each one is a failure.
        rows = res.get("observed_value")
        return ExpectationOutcome(
            expectation=config["type"],
            column=config.get("description") or kwargs.get("description"),
            success=bool(d["success"]),
            observed_value=rows,
            unexpected_count=rows,
            unexpected_percent=None,  # a count of violating groups has no denominator
            sample=[],
            kwargs=kwargs,
        )
    return ExpectationOutcome(
        expectation=config["type"],
        column=kwargs.get("column") or ", ".join(kwargs.get("column_list") or []) or None,
        success=bool(d["success"]),
        observed_value=res.get("observed_value"),
        unexpected_count=res.get("unexpected_count"),
        unexpected_percent=res.get("unexpected_percent"),
        sample=list(res.get("partial_unexpected_list") or [])[:SAMPLE_SIZE],
        kwargs=kwargs,
    )


def _with_unexpected_rows(
    params: PgParams, outcome: ExpectationOutcome, batch_query: str | None
) -> ExpectationOutcome:
    """A failed UnexpectedRowsExpectation, with its first rows as the sample.

    GX returns those rows only in the COMPLETE result format, which would also list up to 200 values
    of every other expectation; so the failing query (and only a failing one) is run again here, limited.
    The batch is substituted as GX does: bare when the query joins (it aliases the batch itself),
    otherwise aliased.
    """
    if outcome.success or outcome.expectation != UNEXPECTED_ROWS:
        return outcome
    query = str(outcome.kwargs["unexpected_rows_query"])
    batch = f"({batch_query})" if batch_query else "(select 1) as no_batch"
    if " join " not in f" {query.lower()} ":
        batch = f"{batch} as subselect"
    with connect(params) as conn:
        cur = conn.execute(f"select * from ({query.format(batch=batch)}) as unexpected limit {SAMPLE_SIZE}")
        names = [c.name for c in cur.description or []]
        sample = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
    return replace(outcome, sample=sample)


def record_result(params: PgParams, result: SuiteResult, *, run_id: str, partition_key: str | None) -> None:
    """Append the verdict to ops.quality_results: the publication gate and the data team read it."""
    details = json.dumps([asdict(o) for o in result.outcomes], default=str)
    with connect(params) as conn:
        conn.execute(
            """
            insert into ops.quality_results
                (run_id, partition_key, suite, target, success, evaluated, failed, details)
            values (%s, %s, %s, %s, %s, %s, %s, %s)
            """,
            (
                run_id,
                partition_key,
                result.suite,
                result.target,
                result.success,
                len(result.outcomes),
                len(result.failed),
                details,
            ),
        )
