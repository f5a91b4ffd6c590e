"""The day counts that the warehouse (dbt), the Python stages and the quality suites must agree on.

Each number has ONE owner, here. Python imports it; every dbt invocation receives it as a var
(`dbt_vars()`); `dbt_project.yml` declares the same value as the var's default, for a dbt command typed
by hand; tests/test_windows.py fails when any of them disagree, or when a model or macro gives one of
these vars a default of its own.

Changing a number changes what the night computes for the days it rebuilds: incremental tables keep
their older days as computed then, so a change takes a full refresh (`dbt build --full-refresh`) to
apply to history.
"""

from __future__ import annotations

from typing import Final

# Late events: a night re-aggregates this many days before its window, so an event delivered up to
# three days late lands on the day it happened (dbt event models, the marts' windowed suites, and the
# publication window all reach back this far).
LOOKBACK_DAYS: Final[int] = 3

# As-of dates kept in ml.candidates (ml.candidates.CandidateConfig.retention_days) and, by the dbt
# post-hook `as_of_retention`, in features.candidate_pair_features: the same horizon in both, or
# training would read features without candidates or the reverse.
CANDIDATE_RETENTION_DAYS: Final[int] = 35

# Served recommendation lists kept (marts_build and marts, `ml.scoring` and the recommendations'
# publication): a quarter of "what did this user see", for support and reviews; what the lists earned is
# kept for good in `monitoring` (ranking quality and bias by night). At tier M a night's lists are ~2.1M
# job rows (230 MB with the index, per schema): kept forever they would be the fastest-growing tables.
RECOMMENDATION_RETENTION_DAYS: Final[int] = 90

# Feature windows (dbt features models; ranking reads the columns by name). Item popularity is the
# last week (`*_7d` columns); a user's activity and interests the last four weeks (`*_28d` columns).
# A column's suffix names its window: tests/test_windows.py holds the names to these numbers.
SHORT_WINDOW_DAYS: Final[int] = 7
LONG_WINDOW_DAYS: Final[int] = 28

# Volume check of the marts (quality.mart_suites): tonight's events against the daily mean of this
# many days before each day of the window.
VOLUME_BASELINE_DAYS: Final[int] = 7


def dbt_vars() -> dict[str, int]:
    """The shared numbers as dbt vars: passed on every dbt invocation, beside the night's window."""
    return {
        "lookback_days": LOOKBACK_DAYS,
        "candidate_retention_days": CANDIDATE_RETENTION_DAYS,
        "short_window_days": SHORT_WINDOW_DAYS,
        "long_window_days": LONG_WINDOW_DAYS,
    }
