"""The code location: every asset, check, job, schedule and sensor of Kairoo Platform.

Kept thin: stages define their assets in `assets/`, resources come from one place
(`orchestration.resources.build_resources`), and heavy libraries load only inside the steps that
use them, so loading this module stays fast (`make` measures it in tests/test_definitions.py).
"""

import dagster as dg

from assets.quality_checks import suite_check
from assets.signals import signals
from assets.warehouse import publish_asset, warehouse_models
from orchestration.jobs import nightly
from orchestration.resources import build_resources, executor_for
from orchestration.schedules import nightly_schedule
from orchestration.sensors import late_signal_files, record_run_failures
from quality.mart_suites import MART_SUITES

mart_checks = [suite_check(s.suite, s.asset_key, windowed=s.windowed) for s in MART_SUITES]
published_marts = publish_asset([], [], required_suites=[s.suite.name for s in MART_SUITES])

defs = dg.Definitions(
    assets=[signals, warehouse_models, published_marts],
    asset_checks=mart_checks,
    jobs=[nightly],
    schedules=[nightly_schedule],
    sensors=[record_run_failures, late_signal_files],
    resources=build_resources(),
    executor=executor_for(),
)
