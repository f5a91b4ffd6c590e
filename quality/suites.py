"""Declarative expectation suites: what "good" means for a table, independent of any tool."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Expectation:
    """One GX expectation by class name: `Expectation("ExpectColumnValuesToNotBeNull", column="user_key")`."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __init__(self, kind: str, **kwargs: Any) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "kwargs", kwargs)

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column")


@dataclass(frozen=True)
class Suite:
    """Expectations over one relation, or over a query (for windows, joins and history comparisons).

    `query` may reference `{schema}` and `{table}` and the window placeholders `{start}` and `{end}`
    (ISO dates) which `run_suite` fills in before GX runs it; `{lookback_start}` is the first day the
    night re-aggregated (`start` minus core.windows.LOOKBACK_DAYS: late events changed those days too).
    """

    name: str
    schema: str
    table: str
    expectations: tuple[Expectation, ...]
    query: str | None = None

    @property
    def target(self) -> str:
        return f"{self.schema}.{self.table}"
