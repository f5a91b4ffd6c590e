"""The code location: every asset, check, job, schedule and sensor of Kairoo Platform.

Kept thin: stages define their assets in `assets/`, resources come from one place
(`orchestration.resources.build_resources`), and heavy libraries load only inside the steps that
use them, so loading this module stays fast (benchmarks/bench_load.py measures it).
"""

import dagster as dg

from assets.quality_checks import suite_check
from assets.ranking import (
    RECOMMENDATION_TABLES,
    candidates,
    promotion_gate,
    ranker_challenger,
    recommendations,
)
from assets.signals import signals
from assets.warehouse import MART_KEYS, MART_SPECS, pair_features, publish_asset, warehouse_models
from core.publish import PublishSpec
from core.settings import Settings
from orchestration.jobs import nightly
from orchestration.resources import build_resources, executor_for
from orchestration.schedules import nightly_schedule
from orchestration.sensors import late_signal_files, record_run_failures
from quality.mart_suites import MART_SUITES, RECOMMENDATION_SUITES

gx_checks = [
    suite_check(s.suite, s.asset_key, windowed=s.windowed) for s in MART_SUITES + RECOMMENDATION_SUITES
]

# Two publishers, each gated by its own suites: the dashboards' marts do not wait on the ranker (a
# night whose model cannot serve still refreshes the KPIs), and recommendations never go out unchecked.
published_marts = publish_asset(
    "published",
    MART_SPECS,
    MART_KEYS,
    required_suites=[s.suite.name for s in MART_SUITES],
    description=(
        "What dashboards read. Tonight's marts replace yesterday's in one transaction, and only when "
        "every Great Expectations suite on them passed in this run; otherwise yesterday's marts stay."
    ),
)
published_recommendations = publish_asset(
    "recommendations_published",
    [PublishSpec(t, "window", "as_of_date") for t in RECOMMENDATION_TABLES],
    [recommendations.key],
    required_suites=[s.suite.name for s in RECOMMENDATION_SUITES],
    description="Tonight's recommendations, published after their suites passed (one transaction).",
)


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    """The definitions bound to one environment (tests pass their own settings)."""
    return dg.Definitions(
        assets=[
            signals,
            warehouse_models,
            pair_features,
            candidates,
            ranker_challenger,
            recommendations,
            published_marts,
            published_recommendations,
        ],
        asset_checks=[*gx_checks, promotion_gate],
        jobs=[nightly],
        schedules=[nightly_schedule],
        sensors=[record_run_failures, late_signal_files],
        resources=build_resources(settings),
        executor=executor_for(settings),
    )


defs = build_definitions()
