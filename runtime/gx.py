"""The one adapter from a Great Expectations suite to a Dagster asset check.

Every suite of every stage goes through `suite_check`, so all checks look the same in the UI:
pass/fail, and per expectation the column, observed value, unexpected count and a sample of bad
values. Checks are blocking by default: a failure stops everything downstream in the run,
including publication.
"""

from collections.abc import Sequence

import dagster as dg

from quality.runner import SuiteResult, record_result, run_suite
from quality.suites import Suite
from runtime.partitions import window_of
from runtime.resources import WarehouseResource


def to_check_result(result: SuiteResult) -> dg.AssetCheckResult:
    """Render a suite verdict as a Dagster check result (metadata that the UI shows as a table)."""
    rows = [
        "| expectation | column | passed | observed | unexpected | sample |",
        "|---|---|---|---|---|---|",
    ]
    for o in result.outcomes:
        sample = ", ".join(str(v) for v in o.sample[:5])
        rows.append(
            f"| {o.expectation} | {o.column or ''} | {'yes' if o.success else '**NO**'} | "
            f"{_short(o.observed_value)} | {_short(o.unexpected_count)} | {sample} |"
        )
    failed = [
        {
            "expectation": o.expectation,
            "column": o.column,
            "observed_value": _short(o.observed_value),
            "unexpected_count": o.unexpected_count,
            "unexpected_percent": o.unexpected_percent,
            "sample": [str(v) for v in o.sample],
            "kwargs": {k: _short(v) for k, v in o.kwargs.items()},
        }
        for o in result.failed
    ]
    return dg.AssetCheckResult(
        passed=result.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=result.summary(),
        metadata={
            "suite": result.suite,
            "target": result.target,
            "evaluated": len(result.outcomes),
            "failed": len(result.failed),
            "failed_expectations": dg.MetadataValue.json(failed),
            "expectations": dg.MetadataValue.md("\n".join(rows)),
        },
    )


def _short(value: object, limit: int = 80) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def suite_check(
    suite: Suite,
    asset: dg.AssetKey | Sequence[str],
    *,
    windowed: bool,
    blocking: bool = True,
    description: str | None = None,
    additional_deps: Sequence[dg.AssetKey] = (),
) -> dg.AssetChecksDefinition:
    """A blocking asset check that runs `suite` in PostgreSQL and records the verdict for the gate.

    `windowed` suites are given the run's partition window (their query filters on it); others
    check the whole relation.
    """

    @dg.asset_check(
        asset=asset,
        name=suite.name,
        blocking=blocking,
        description=description or f"Great Expectations suite {suite.name} on {suite.target}",
        additional_deps=list(additional_deps),
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        params = warehouse.params()
        start, end = window_of(context)
        result = run_suite(params, suite, start=start if windowed else None, end=end if windowed else None)
        record_result(params, result, run_id=context.run.run_id, partition_key=f"{start}..{end}")
        return to_check_result(result)

    return _check
