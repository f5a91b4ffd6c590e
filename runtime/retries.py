"""One retry policy for every step: transient database faults retry with backoff, the rest fail fast.

A plain RetryPolicy would also retry a contract violation or a bug three times; only faults that a
later attempt can fix (core.transient: a lost connection, a server restart, a deadlock or
serialization victim) are worth waiting for. They arrive in three shapes and all three are
handled here: psycopg / SQLAlchemy exceptions (ingestion, candidates, training reads, scoring,
publish, GX), and dbt's failures, which reach us as `DagsterDbtCliRuntimeError` with the server's
words in dbt's run results.

A dbt test that ERRORED (could not run: the connection dropped under it) is not a data verdict:
`dbt_events` keeps it out of the asset checks, and the step fails (or retries) with the error. A
test that FAILED (ran and found bad rows) stays a failed check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from core.transient import dbt_failure_is_transient, is_transient, is_transient_message

MAX_RETRIES = 3
BASE_SECONDS = 5


def backoff_seconds(retry_number: int, base: float = BASE_SECONDS) -> float:
    """5 s, 10 s, 20 s, ...: gives a restarting server or a failover time to come back."""
    return base * (2**retry_number)


def _retry_number(context: Any) -> int:
    op_context = getattr(context, "op_execution_context", context)
    return int(getattr(op_context, "retry_number", 0))


def _retry(context: Any, exc: BaseException, what: str) -> dg.RetryRequested:
    number = _retry_number(context)
    context.log.warning(
        f"transient database fault in {what} (attempt {number + 1} of {MAX_RETRIES + 1}): {exc}"
    )
    return dg.RetryRequested(max_retries=MAX_RETRIES, seconds_to_wait=backoff_seconds(number))


@contextmanager
def transient_db_retries(
    context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext, what: str = "this step"
) -> Iterator[None]:
    """Run the block; a transient database fault inside it asks Dagster to retry the step."""
    try:
        yield
    except dg.RetryRequested:
        raise
    except Exception as exc:
        if is_transient(exc) or _dbt_error_is_transient(exc):
            raise _retry(context, exc, what) from exc
        raise


def dbt_run_errors(target_path: Path) -> list[str] | None:
    """Messages of the nodes that errored in a dbt invocation (run_results.json), None without one."""
    path = Path(target_path) / "run_results.json"
    try:
        results = json.loads(path.read_text())["results"]
    except (OSError, ValueError, KeyError):
        return None
    return [str(r.get("message") or "") for r in results if r.get("status") == "error"]


def _dbt_error_is_transient(exc: BaseException) -> bool:
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    if not isinstance(exc, DagsterDbtCliRuntimeError):
        return False
    errors = getattr(exc, "kairoo_run_errors", None)
    if errors is not None:
        return dbt_failure_is_transient(errors)
    # dbt died before writing its run results: its own log lines are all there is.
    return is_transient_message(str(exc))


def _status(event: Any) -> str | None:
    value = (getattr(event, "metadata", None) or {}).get("status")
    return str(getattr(value, "value", value)) if value is not None else None


def dbt_events(invocation: Any) -> Iterator[Any]:
    """The Dagster events of a dbt invocation, minus the checks of tests that errored.

    A failure of the invocation is re-raised with the errored nodes' messages attached
    (`kairoo_run_errors`), so `transient_db_retries` can tell a lost connection from a bug.
    """
    from dagster_dbt.errors import DagsterDbtCliRuntimeError

    try:
        for event in invocation.stream():
            if isinstance(event, dg.AssetCheckResult | dg.AssetCheckEvaluation) and _status(event) == "error":
                continue  # an error of the step (raised below), never a failed data check
            yield event
    except DagsterDbtCliRuntimeError as exc:
        exc.kairoo_run_errors = dbt_run_errors(invocation.target_path)  # type: ignore[attr-defined]
        raise
