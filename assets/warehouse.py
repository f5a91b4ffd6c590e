"""Warehouse: the whole dbt project as one step, and the publication of its marts.

dbt runs as ONE `dbt build` per night (models and their data tests; unit tests are excluded, they run
in CI): its data tests become Dagster asset checks, and a failing test stops everything downstream.
The partition window and the shared day counts (core.windows) are passed as dbt vars, so incremental
models process only the night's days (plus the lookback).
"""

import json
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from core import windows
from core.publish import PublishSpec, publish
from orchestration.dbt_project import kairoo_dbt
from orchestration.partitions import daily, single_run, window_of
from orchestration.resources import WarehouseResource
from orchestration.retries import transient_db_retries

BUILD_SCHEMA = "marts_build"


class KairooDbtTranslator(DagsterDbtTranslator):
    """Asset keys are `[schema, name]` (raw/resumes, staging/stg_..., marts_build/fct_...).

    dbt tests on the raw sources are asset checks of the raw tables, like every other dbt test: the
    nightly build runs them, so Dagster shows their verdict (without this they were logged as
    observations "outside Dagster's check selection", a warning on every night).
    """

    def __init__(self) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_source_tests_as_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        return dg.AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        schema = dbt_resource_props["schema"]
        return "marts" if schema == BUILD_SCHEMA else schema


# Built in a second, small dbt step after ranking has written tonight's candidates: the features of
# each (user, candidate) pair, the one code path that training and scoring both read.
PAIR_FEATURES = "candidate_pair_features"


def dbt_vars(start, end) -> dict[str, Any]:
    """The partition window and the shared day counts (core.windows, one owner) as dbt vars."""
    return {"min_date": start.isoformat(), "max_date": end.isoformat(), **windows.dbt_vars()}


def dbt_build_args(start, end) -> list[str]:
    """The nightly dbt command. Unit tests check SQL logic against fixed inputs: they belong to CI
    (`make test`), not to every night, where they would only add minutes and a new way to fail."""
    return ["build", "--vars", json.dumps(dbt_vars(start, end)), "--exclude-resource-type", "unit_test"]


def _dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    params = warehouse.params()
    start, end = window_of(context)
    # profiles.yml reads the connection from these variables; the dbt subprocess inherits them.
    os.environ.update(params.dbt_env())
    with transient_db_retries(context):
        yield from dbt.cli(dbt_build_args(start, end), context=context).stream()


@dbt_assets(
    manifest=kairoo_dbt.manifest_path,
    project=kairoo_dbt,
    exclude=PAIR_FEATURES,
    dagster_dbt_translator=KairooDbtTranslator(),
    partitions_def=daily,
    backfill_policy=single_run,
)
def warehouse_models(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
    """Build staging → intermediate → features / marts_build for the night's window, with its data tests."""
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
def pair_features(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
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


def publish_asset(
    name: str,
    specs: list[PublishSpec],
    deps: list[dg.AssetKey],
    required_suites: list[str],
    description: str,
) -> dg.AssetsDefinition:
    """A publication step: `specs` from marts_build → marts, atomically, after every required suite passed."""

    @dg.asset(
        key=dg.AssetKey(["marts", name]),
        deps=deps,
        group_name="publish",
        partitions_def=daily,
        backfill_policy=single_run,
        kinds={"postgres"},
        description=description,
    )
    def _publish(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        start, end = window_of(context)
        with transient_db_retries(context):
            published = publish(
                warehouse.params(),
                specs,
                run_id=context.run.run_id,
                partition_key=f"{start}..{end}",
                window=(start - timedelta(days=windows.LOOKBACK_DAYS), end),
                required_suites=required_suites,
            )
        return dg.MaterializeResult(
            metadata={
                "tables": dg.MetadataValue.md(
                    "| table | mode | window | rows |\n|---|---|---|---|\n"
                    + "\n".join(
                        f"| marts.{p.table} | {p.mode} "
                        f"| {p.window_start or ''}..{p.window_end or ''} | {p.rows} |"
                        for p in published
                    )
                ),
                "tables_published": len(published),
                "rows_published": sum(p.rows for p in published),
                "required_suites": dg.MetadataValue.json(required_suites),
            }
        )

    return _publish
