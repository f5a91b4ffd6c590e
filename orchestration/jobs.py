"""Jobs: `nightly` is the whole graph for one day (or one range, as a single run)."""

import dagster as dg

from runtime.failures import record_step_failure
from runtime.partitions import daily

nightly = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    partitions_def=daily,
    # Every failed step of every run, in-process ones included, lands in ops.run_failures.
    hooks={record_step_failure},
    # One night at a time per warehouse: the queue's tag limit (deploy/dagster*.yaml).
    run_tags={"kairoo/warehouse": "nightly"},
    description=(
        "Sense → think → publish for one day: load the day's signals, build the warehouse, retrain and "
        "gate the ranker, score, check everything, then publish the marts dashboards read."
    ),
)
