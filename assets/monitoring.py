"""Monitoring: the night's gates as Dagster checks, and its verdict as one materialization.

- `marts_gate` (blocking check on `marts_build/mart_exec_kpis_daily`, which `marts/published` depends
  on): anomalies of the run's days; an unwaived error-level anomaly is an ERROR, so the marts are not
  published and yesterday's stay; warnings are WARN.
- the challenger gate: `assets.ranking.promotion_gate` calls `monitoring.review.review_challenger` before it
  may promote (drift of the model's inputs, bias of the challenger's ranking); a block keeps the champion
  serving, as any refused challenger does, and the check says why. It is a call, not a separate check,
  because a check cannot order a sibling check on the same asset (a blocking check only holds
  downstream assets), and the promotion must not happen before the verdict.
- `monitoring/night` (after tonight's recommendations): ranking quality of yesterday's served
  recommendations, bias of tonight's lists and of yesterday's judged by today's interactions (they warn
  on the marts verdict), then the night's verdict (every gate of this run) with a link to the drift report.
- `monitoring/plans_bias` (after tonight's plans): bias of the plans `marts_build.user_plans` publishes
  (warnings), then the `plans_gate` verdict as a blocking check: `marts/user_plans_published` depends on
  this asset, so an unwaived error-level plan-cost anomaly or critical drift of the plans keeps
  yesterday's plans published. Its own asset, not a dependency of `monitoring/night`, so that a night
  whose plans fail still gets its other verdicts. Both re-decide `plans_gate` from what this run recorded
  and a verdict replaces the previous one, so the last to run, whichever it is, holds the complete one.
- freshness: per raw source, the previous day's partition must have landed by 04:00 UTC
  (`build_time_partition_freshness_checks`, evaluated by `freshness_sensor`).
"""

import warnings
from datetime import timedelta
from pathlib import Path

import dagster as dg

from ingestion import PARTITIONED_SOURCES
from runtime.partitions import daily, single_run, window_of
from runtime.resources import WarehouseResource
from runtime.retries import transient_db_retries

KPI_MART = dg.AssetKey(["marts_build", "mart_exec_kpis_daily"])
RECOMMENDATIONS = dg.AssetKey(["marts_build", "recommendations"])
USER_PLANS = dg.AssetKey(["marts_build", "user_plans"])


def report_dir(warehouse: WarehouseResource) -> Path:
    """Where the nightly HTML reports live: the state folder, next to the embedded database."""
    return Path(warehouse.state_dir) / "monitoring"


def _bias_md(results: list) -> str:
    """The ruled bias figures that failed, one line each (an empty table when every rule passed)."""
    lines = ["| surface | attribute | group | metric | value | ratio |", "|---|---|---|---|---|---|"]
    for r in (r for res in results for r in res.rows if r.passed is False):
        lines.append(
            f"| {r.surface} | {r.attribute} | {r.group_value} | {r.metric} | {r.value:.3f} | {r.ratio:.2f} |"
        )
    return "\n".join(lines)


def _verdict_md(verdicts: list) -> str:
    lines = ["| gate | status | blocked | warned | waivers |", "|---|---|---|---|---|"]
    for v in verdicts:
        lines.append(
            f"| {v.gate} | {v.status} | {'; '.join(v.blocked) or '-'} | {len(v.warned)} | "
            f"{', '.join(str(w['waiver_id']) for w in v.waivers) or '-'} |"
        )
    return "\n".join(lines)


@dg.asset_check(
    asset=KPI_MART,
    name="marts_gate",
    blocking=True,
    description=(
        "Volumes per source, quarantine rates and the executive KPIs against their own history (median/MAD, "
        "same weekday): an error-level anomaly, unless waived, holds the marts' publication."
    ),
)
def marts_gate(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
    from monitoring.review import review_marts

    start, end = window_of(context)
    with transient_db_retries(context):
        verdict, scored = review_marts(warehouse.params(), context.run.run_id, start, end)
    counts = {level: sum(a.level == level for a in scored) for level in ("ok", "warn", "error")}
    counts["insufficient_history"] = sum(a.level == "insufficient_history" for a in scored)
    flagged = [a for a in scored if a.level in ("warn", "error")]
    return dg.AssetCheckResult(
        passed=verdict.status == "pass",
        severity=dg.AssetCheckSeverity.ERROR if verdict.status == "block" else dg.AssetCheckSeverity.WARN,
        description=f"marts gate: {verdict.status}"
        + (f" ({'; '.join(verdict.blocked)})" if verdict.blocked else ""),
        metadata={
            "status": verdict.status,
            **{f"anomalies_{k}": v for k, v in counts.items()},
            "flagged": dg.MetadataValue.md(
                "| day | metric | series | level | reason |\n|---|---|---|---|---|\n"
                + "\n".join(
                    f"| {a.as_of_date} | {a.metric} | {a.series} | {a.level} | {a.reason} |" for a in flagged
                )
            ),
            "verdict": dg.MetadataValue.json(verdict.detail()),
        },
    )


@dg.asset(
    key=dg.AssetKey(["monitoring", "night"]),
    deps=[RECOMMENDATIONS],
    group_name="monitoring",
    partitions_def=daily,
    backfill_policy=single_run,
    kinds={"postgres", "evidently"},
    description=(
        "The night's verdict: every gate (challenger, marts, plans) with what passed, warned, blocked and "
        "which waivers applied, the drift report, how yesterday's recommendations did, and the bias of "
        "what was served (tonight's lists, yesterday's judged by today's interactions; warnings only)."
    ),
)
def night(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from monitoring import gates, quality
    from monitoring.review import review_served

    params = warehouse.params()
    start, end = window_of(context)
    run_id = context.run.run_id
    with transient_db_retries(context):
        scores = quality.served_quality(params, end - timedelta(days=1), end)
        quality.record(params, run_id, scores)
        served = review_served(params, run_id, end)
        # Gates that ran in this run are re-decided from what they recorded (waivers may have changed
        # since); the marts and challenger gates' checks already recorded theirs.
        verdicts = [gates.night_verdict(params, run_id, end, g, start=start) for g in gates.GATES]
        report = gates.report_path(params, run_id, end)
    meta: dict = {
        "verdict": max((v.status for v in verdicts), key=("pass", "warn", "block").index),
        "gates": dg.MetadataValue.md(_verdict_md(verdicts)),
        "served_bias_failed": dg.MetadataValue.md(_bias_md(served)),
        "served_bias_reasons": dg.MetadataValue.json([reason for r in served for reason in r.reasons]),
        "ranking_quality": dg.MetadataValue.json(
            [
                {
                    "item_type": q.item_type,
                    "model_version": q.model_version,
                    "ndcg10": q.ndcg10,
                    "recall": q.recall,
                    "users": q.users,
                }
                for q in scores
            ]
        ),
    }
    if report:
        meta["drift_report"] = dg.MetadataValue.path(report)
        meta["drift_report_url"] = dg.MetadataValue.url(Path(report).resolve().as_uri())
    return dg.MaterializeResult(metadata=meta)


PLANS_BIAS = dg.AssetKey(["monitoring", "plans_bias"])


@dg.asset(
    key=PLANS_BIAS,
    deps=[USER_PLANS],
    # Blocking: `marts/user_plans_published` depends on this asset, so a blocked plans verdict (an
    # unwaived error-level plan-cost anomaly, a critical drift of the plans) keeps yesterday's plans.
    check_specs=[dg.AssetCheckSpec("plans_gate", asset=PLANS_BIAS, blocking=True)],
    group_name="monitoring",
    partitions_def=daily,
    backfill_policy=single_run,
    kinds={"postgres"},
    description=(
        "Tonight's published plans by gender, age band and region: hours planned and the share not written "
        "by a fallback (four-fifths rule), modules offered and fallback share (reported); the plans gate."
    ),
)
def plans_bias(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from monitoring.review import review_plans

    start, end = window_of(context)
    with transient_db_retries(context):
        verdict, result = review_plans(warehouse.params(), context.run.run_id, start, end)
    gate = dg.AssetCheckResult(
        check_name="plans_gate",
        passed=verdict.allows,
        severity=dg.AssetCheckSeverity.ERROR if verdict.status == "block" else dg.AssetCheckSeverity.WARN,
        description=f"plans gate: {verdict.status.upper()}",
        metadata={
            "blocked": dg.MetadataValue.json(verdict.blocked),
            "warned": dg.MetadataValue.json(verdict.warned),
            "waivers": dg.MetadataValue.json(verdict.waivers),
        },
    )
    return dg.MaterializeResult(
        check_results=[gate],
        metadata={
            "plans_gate": verdict.status,
            "blocked": dg.MetadataValue.json(verdict.blocked),
            "failed": dg.MetadataValue.md(_bias_md([result])),
            "reasons": dg.MetadataValue.json(result.reasons),
            "groups_measured": len({(r.attribute, r.group_value) for r in result.rows}),
        },
    )


# Partition-aware on purpose: the FreshnessPolicy on the raw assets (assets/signals.py) is evaluated per
# asset, so a backfill of an old day makes a late source look fresh (dagster-io/dagster discussion
# 34023); these checks ask for the previous day's partition itself. Dagster marks them superseded.
warnings.filterwarnings("ignore", category=dg.SupersessionWarning, module=__name__)
# A day's files are expected by 04:00 UTC the next day (the schedule runs at 02:00); a partition still
# missing then is a late source, visible per source on the asset page.
freshness_checks = dg.build_time_partition_freshness_checks(
    assets=[dg.AssetKey(["raw", s]) for s in PARTITIONED_SOURCES], deadline_cron="0 4 * * *", timezone="UTC"
)
freshness_sensor = dg.build_sensor_for_freshness_checks(
    freshness_checks=freshness_checks, name="source_freshness", minimum_interval_seconds=600
)

ASSETS = [night, plans_bias]
CHECKS = [marts_gate, *freshness_checks]
SENSORS = [freshness_sensor]
