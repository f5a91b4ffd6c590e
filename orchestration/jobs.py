"""Jobs: `nightly` is the whole graph for one day (or one range, as a single run)."""

import dagster as dg

from runtime.partitions import daily

nightly = dg.define_asset_job(
    "nightly",
    selection=dg.AssetSelection.all(),
    partitions_def=daily,
    description=(
        "Sense → think → publish for one day: load the day's signals, build the warehouse, retrain and "
        "gate the ranker, score, check everything, then publish the marts dashboards read."
    ),
)
