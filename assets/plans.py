"""Plans: tonight's learning plan per user, after the recommendations, checked and published.

One step writes the night (`plans.night.run_night`: the queue's decisions, the users whose inputs
changed, the router or the offline planner, guardrails, approval, follow-ups and their messages) into
`plans.*` and `marts_build.user_plans`; a blocking check audits that table inside PostgreSQL (every cited
id exists with its catalogue title, every plan approved and versioned); the publisher copies it to
`marts.user_plans` only when that audit passed in the same run.
"""

import dagster as dg

from core.publish import PublishSpec
from runtime.metadata import plain
from runtime.partitions import daily, single_run, window_of
from runtime.publishing import publish_asset
from runtime.resources import LlmResource, WarehouseResource
from runtime.retries import transient_db_retries

RECOMMENDATIONS_KEY = dg.AssetKey(["marts_build", "recommendations"])
AUDIT_SUITE = "plans_user_plans"  # = plans.night.AUDIT_SUITE (a test holds them equal)


class PlansConfig(dg.Config):
    """Launchpad config of a plans night (`plans__user_plans`)."""

    provider: str = ""  # empty: the llm resource's (KAIROO_PLANS_PROVIDER); offline | llm
    full_regeneration: bool = False  # re-plan every user, not only those whose inputs changed
    weekly_summary_weekday: int = 0  # the night (0 = Monday .. 6 = Sunday) that writes weekly summaries
    weekly_hours: float = 5.0
    horizon_weeks: int = 8
    review_hours: int = 36
    night_envelope_usd: float = 25.0


@dg.asset(
    key=dg.AssetKey(["marts_build", "user_plans"]),
    deps=[RECOMMENDATIONS_KEY],
    group_name="plans",
    partitions_def=daily,
    backfill_policy=single_run,
    kinds={"openai", "postgres"},
    description="Each user's current learning plan (plans.plan_versions), approved, grounded and private.",
)
def user_plans(
    context: dg.AssetExecutionContext, config: PlansConfig, warehouse: WarehouseResource, llm: LlmResource
) -> dg.MaterializeResult:
    from plans.night import NightConfig, run_night
    from plans.offline import PlannerConfig
    from plans.router import Provider

    _, end = window_of(context)  # a range plans its last night: plans are for tonight, not history
    chain = [
        Provider(name, url, model, key or "unused")
        for name, url, model, key in (
            ("primary", llm.primary_base_url, llm.primary_model, llm.primary_api_key),
            ("secondary", llm.secondary_base_url, llm.secondary_model, llm.secondary_api_key),
        )
        if url and model
    ]
    night = NightConfig(
        provider=config.provider or llm.plans_provider,
        full_regeneration=config.full_regeneration,
        weekly_summary_weekday=config.weekly_summary_weekday,
        planner=PlannerConfig(weekly_hours=config.weekly_hours, horizon_weeks=config.horizon_weeks),
        review_hours=config.review_hours,
        concurrency=llm.concurrency,
        rpm=llm.rpm,
        tpm=llm.tpm,
        night_envelope_usd=config.night_envelope_usd,
    )
    with transient_db_retries(context):
        report = run_night(warehouse.params(), end, context.run.run_id, night, chain)
    meta = plain(
        {
            "users_planned": report.users_planned,
            "users_unchanged": report.unchanged,
            "users_pinned": report.pinned,
            "provider_mix": report.provider_mix,
            "statuses": report.statuses,
            "fallbacks": report.fallbacks,
            "cache_hits": report.cache_hits,
            "llm_calls": report.llm_calls,
            "tokens_in": report.tokens_in,
            "tokens_out": report.tokens_out,
            "cost_usd": report.cost_usd,
            "envelope_usd": report.envelope_usd,
            "within_envelope": report.within_envelope,
            "review_queue_length": report.queue_length,
            "decisions_applied": report.decisions_applied,
            "expired_to_offline": report.expired_to_offline,
            "follow_ups": report.follow_ups,
            "weekly_summaries": report.weekly_summaries,
            "offline_p95_ms": report.offline_p95_ms,
            "seconds": report.seconds,
        }
    )
    return dg.MaterializeResult(metadata={**meta, "dagster/row_count": report.published_rows})


@dg.asset_check(asset=user_plans, blocking=True, description="Every published plan is grounded and approved.")
def user_plans_audit(
    context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource
) -> dg.AssetCheckResult:
    from core.database import connect
    from plans.night import audit_user_plans

    partition = context.run.tags.get("dagster/partition")
    with connect(warehouse.params()) as conn:
        verdict = audit_user_plans(conn, context.run.run_id, partition)
    return dg.AssetCheckResult(passed=bool(verdict["success"]), metadata=plain(verdict))


# The plans gate (a blocking check of monitoring/plans_bias) must pass before the plans go out.
PLANS_GATE_ASSET = dg.AssetKey(["monitoring", "plans_bias"])
published_user_plans = publish_asset(
    "user_plans_published",
    [PublishSpec("user_plans")],
    [user_plans.key, PLANS_GATE_ASSET],
    required_suites=[AUDIT_SUITE],
    description="Tonight's plans, published to marts.user_plans after their audit passed (one transaction).",
    lookback_days=0,
)

ASSETS = [user_plans, published_user_plans]
CHECKS = [user_plans_audit]
