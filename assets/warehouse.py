"""Warehouse: the whole dbt project as one step, the Great Expectations suites on its marts, and
the publication of those marts.

dbt runs as ONE `dbt build` per night (models and their data tests; unit tests run in CI only): its
tests become Dagster asset checks, and a failing test stops everything downstream. The partition
window is passed as dbt vars, so incremental models process only the night's days (plus the
lookback).
"""

import json
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, dbt_assets

from core.publish import PublishSpec
from quality.mart_suites import MART_SUITES
from runtime.dbt_project import kairoo_dbt
from runtime.gx import suite_check
from runtime.partitions import daily, single_run, window_of
from runtime.publishing import publish_asset
from runtime.resources import KairooDbtResource, WarehouseResource
from runtime.retries import transient_db_retries

BUILD_SCHEMA = "marts_build"
LOOKBACK_DAYS = 3  # the dbt var of the same name: late events re-aggregate this many days back


class KairooDbtTranslator(DagsterDbtTranslator):
    """Asset keys are `[schema, name]` (raw/resumes, staging/stg_..., marts_build/fct_...)."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        schema = dbt_resource_props["schema"]
        return "marts" if schema == BUILD_SCHEMA else schema


# Built in a second, small dbt step after ranking has written tonight's candidates: the features of
# each (user, candidate) pair, the one code path that training and scoring both read.
PAIR_FEATURES = "candidate_pair_features"


def dbt_vars(start, end, lookback_days: int = LOOKBACK_DAYS) -> dict[str, Any]:
    """The partition window as dbt vars (see dbt_project.yml)."""
    return {"min_date": start.isoformat(), "max_date": end.isoformat(), "lookback_days": lookback_days}


def dbt_build_args(start, end) -> list[str]:
    """The nightly dbt command. Unit tests check SQL logic against fixed inputs: they belong to CI
    (`make test`), not to every night, where they would only add minutes and a new way to fail."""
    return ["build", "--vars", json.dumps(dbt_vars(start, end)), "--exclude-resource-type", "unit_test"]


def _dbt_build(context: dg.AssetExecutionContext, dbt: KairooDbtResource, warehouse: WarehouseResource):
    start, end = window_of(context)
    with transient_db_retries(context):
        yield from dbt.invoke(dbt_build_args(start, end), context, warehouse.params()).stream()


@dbt_assets(
    manifest=kairoo_dbt.manifest_path,
    project=kairoo_dbt,
    exclude=PAIR_FEATURES,
    dagster_dbt_translator=KairooDbtTranslator(),
    partitions_def=daily,
    backfill_policy=single_run,
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: KairooDbtResource, warehouse: WarehouseResource):
    """Build staging → intermediate → features / marts_build for the night's window, with all tests."""
    yield from _dbt_build(context, dbt, warehouse)


@dbt_assets(
    manifest=kairoo_dbt.manifest_path,
    project=kairoo_dbt,
    select=PAIR_FEATURES,
    name="pair_features",
    dagster_dbt_translator=KairooDbtTranslator(),
    partitions_def=daily,
    backfill_policy=single_run,
)
def pair_features(context: dg.AssetExecutionContext, dbt: KairooDbtResource, warehouse: WarehouseResource):
    """Point-in-time features of tonight's candidate pairs (after ranking wrote ml.candidates)."""
    yield from _dbt_build(context, dbt, warehouse)


def publish_specs(manifest: Mapping[str, Any]) -> list[PublishSpec]:
    """Publication rules declared by each mart model (`config.meta.publish` in its YAML)."""
    specs = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["schema"] != BUILD_SCHEMA:
            continue
        rule = (node.get("config", {}).get("meta") or {}).get("publish") or node.get("meta", {}).get(
            "publish"
        )
        if not rule:
            raise ValueError(f"mart {node['name']} declares no meta.publish rule in its YAML")
        specs.append(PublishSpec(node["name"], rule.get("mode", "full"), rule.get("date_column")))
    return sorted(specs, key=lambda s: s.table)


MANIFEST = json.loads(kairoo_dbt.manifest_path.read_text())
MART_SPECS = publish_specs(MANIFEST)
MART_KEYS = [dg.AssetKey([BUILD_SCHEMA, s.table]) for s in MART_SPECS]


gx_checks = [suite_check(s.suite, s.asset_key, windowed=s.windowed) for s in MART_SUITES]

# The dashboards' marts publish on their own: a night whose model cannot serve still refreshes the
# KPIs (recommendations publish separately, in assets/ranking.py).
published_marts = publish_asset(
    "published",
    MART_SPECS,
    MART_KEYS,
    required_suites=[s.suite.name for s in MART_SUITES],
    description=(
        "What dashboards read. Tonight's marts replace yesterday's in one transaction, and only when "
        "every Great Expectations suite on them passed in this run; otherwise yesterday's marts stay."
    ),
    lookback_days=LOOKBACK_DAYS,
)

ASSETS = [warehouse_models, pair_features, published_marts]
CHECKS = gx_checks
