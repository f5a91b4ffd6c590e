"""Which database faults a later attempt can fix: the one classifier every step's retry policy uses.

A retry is worth its wait only when the fault is outside the work itself: the server restarted or
failed over, the connection dropped, the server refused new connections for a moment, or PostgreSQL
chose this transaction as a deadlock or serialization victim. Everything else (a contract
violation, a SQL bug, a full disk, a value too large for an index) fails the same way every time,
and retrying it only delays the alarm: psycopg files some of those under `OperationalError` too
(SQLSTATE classes 53 and 54), which is why the class alone is not the rule.

The same faults reach us in three shapes: psycopg exceptions (ingestion, candidates, scoring,
publish), SQLAlchemy exceptions wrapping them (Great Expectations, pandas reads), and dbt's text
(dbt runs in its own process and reports the server's words).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import psycopg

# SQLSTATEs of faults outside the work (PostgreSQL appendix A).
TRANSIENT_SQLSTATES = frozenset(
    {
        "08000",  # connection_exception
        "08001",  # sqlclient_unable_to_establish_sqlconnection
        "08003",  # connection_does_not_exist
        "08004",  # sqlserver_rejected_establishment_of_sqlconnection
        "08006",  # connection_failure
        "57P01",  # admin_shutdown: a restart or a fast shutdown ended our session
        "57P02",  # crash_shutdown: another backend crashed, the server reset every session
        "57P03",  # cannot_connect_now: the database system is starting up / shutting down
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "53300",  # too_many_connections
    }
)

# What the server and libpq say for the same faults, as dbt (or any text-only report) relays them.
TRANSIENT_MESSAGES = re.compile(
    "|".join(
        [
            r"server closed the connection unexpectedly",
            r"terminating connection due to administrator command",
            r"terminating connection because of crash of another server process",
            r"the database system is (?:starting up|shutting down|in recovery mode|not yet accepting)",
            r"connection to server (?:at|on) .* failed",
            r"could not connect to server",
            r"connection refused",
            r"connection already closed",
            r"the connection is closed",
            r"connection timed out",
            r"ssl syscall error: eof detected",
            r"consuming input failed",
            r"could not receive data from server",
            r"could not send data to server",
            r"no connection to the server",
            r"deadlock detected",
            r"could not serialize access",
            r"sorry, too many clients already",
            r"remaining connection slots are reserved",
        ]
    ),
    re.IGNORECASE,
)


class TransientDatabaseError(RuntimeError):
    """A database fault that a later attempt can fix, raised where the original exception is gone
    (a Great Expectations result, a dbt report)."""


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, what it wraps (SQLAlchemy's `.orig`) and its causes, each once."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([getattr(e, "orig", None), e.__cause__, e.__context__])


def is_transient(exc: BaseException) -> bool:
    """True when `exc` (or what it wraps) is a database fault that a later attempt can fix."""
    for e in _chain(exc):
        if isinstance(e, TransientDatabaseError):
            return True
        if isinstance(e, psycopg.Error):
            state = e.sqlstate
            if state is not None:
                if state in TRANSIENT_SQLSTATES:
                    return True
                continue
            # No SQLSTATE: libpq lost or never got the connection (the server is gone).
            if isinstance(e, psycopg.OperationalError | psycopg.InterfaceError):
                return True
        elif (
            type(e).__module__.startswith("sqlalchemy")
            and "OperationalError" in type(e).__name__
            and is_transient_message(str(e))
        ):
            return True
    return False


def is_transient_message(text: str) -> bool:
    """True when a text report (dbt's, a GX exception message) names a fault a retry can fix."""
    return bool(TRANSIENT_MESSAGES.search(text or ""))


def dbt_failure_is_transient(errors: Iterable[str]) -> bool:
    """A failed dbt run is worth retrying when it had errors and every one of them is transient.

    `errors` are the messages of the nodes that ERRORED (run_results.json status "error"), not of
    tests that FAILED: a failed data test is a verdict that a retry reproduces, and one SQL error
    beside a lost connection would fail the retry just the same.
    """
    errors = [e for e in errors if e]
    return bool(errors) and all(is_transient_message(e) for e in errors)
