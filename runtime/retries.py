"""Retry transient database failures with exponential backoff; fail fast on everything else.

A plain RetryPolicy would also retry a contract violation or a bug three times; only errors that
a later attempt can fix (lost connections, a server restart, serialization failures, deadlocks:
all `psycopg.OperationalError`) are worth waiting for.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import psycopg

MAX_RETRIES = 3
BASE_SECONDS = 5


def backoff_seconds(retry_number: int, base: float = BASE_SECONDS) -> float:
    """5 s, 10 s, 20 s, ...: gives a restarting server or a failover time to come back."""
    return base * (2**retry_number)


@contextmanager
def transient_db_retries(context: dg.AssetExecutionContext) -> Iterator[None]:
    try:
        yield
    except psycopg.OperationalError as exc:
        context.log.warning(f"transient database error (attempt {context.retry_number + 1}): {exc}")
        raise dg.RetryRequested(
            max_retries=MAX_RETRIES, seconds_to_wait=backoff_seconds(context.retry_number)
        ) from exc
