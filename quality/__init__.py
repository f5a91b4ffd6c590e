"""Data quality: Great Expectations suites executed inside PostgreSQL, results as plain data.

`run_suite` turns a declarative `Suite` into a GX validation over a SQL table or query (GX pushes
counts and samples down as SQL; nothing is pulled into pandas) and returns a `SuiteResult` that
the orchestration layer adapts to Dagster asset checks and that `record_result` writes to
`ops.quality_results`, which the publication gate reads.
"""

from quality.runner import ExpectationOutcome, SuiteResult, record_result, run_suite
from quality.suites import Expectation, Suite

__all__ = ["Expectation", "ExpectationOutcome", "Suite", "SuiteResult", "record_result", "run_suite"]
