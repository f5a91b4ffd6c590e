"""Ranking: candidates → nightly challenger → promotion gate → recommendations from the champion.

The gate is a blocking evaluation check on the challenger. It moves the `champion` alias only when
the challenger beats the serving champion by a margin on the same validation window AND passes the
bias rule. A refused challenger is a WARN (the champion keeps serving and tonight's
recommendations still refresh; the check says why); an evaluation that cannot run is an ERROR and
blocks scoring and publication.
"""

from pathlib import Path

import dagster as dg

from assets.warehouse import LOOKBACK_DAYS
from core.publish import PublishSpec
from core.windows import RECOMMENDATION_RETENTION_DAYS
from quality.mart_suites import RECOMMENDATION_SUITES
from runtime.gx import suite_check
from runtime.k8s import step_tags
from runtime.metadata import plain
from runtime.partitions import daily, single_run, window_of
from runtime.publishing import publish_asset
from runtime.resources import MlflowResource, RankingResource, SignalsResource, WarehouseResource
from runtime.retries import transient_db_retries

PAIR_FEATURES_KEY = dg.AssetKey(["features", "candidate_pair_features"])
FEATURE_DEPS = [
    dg.AssetKey(["features", name])
    for name in (
        "user_skills",
        "job_skills",
        "module_skills",
        "user_skill_gaps",
        "user_features",
        "job_features",
    )
] + [
    # Features and labels derive from the same events: when the night's event checks fail (blocking GX
    # suites on fct_interactions), ranking does not learn from them either.
    dg.AssetKey(["marts_build", "fct_interactions"]),
]
TRAINING_DEPS = [
    dg.AssetKey(["features", "candidate_pair_features"]),
    dg.AssetKey(["features", "interaction_labels"]),
    dg.AssetKey(["marts_build", "dim_users"]),  # protected attributes, for the bias rule only
]


class ChallengerEvaluation(dg.Config):
    """Offline evaluation of demo and scale runs only (the ranking knobs are the `ranking` resource)."""

    # The generator's latent truth: it adds the oracle's NDCG to the run's metrics and never reaches
    # training or scoring.
    oracle_dir: str | None = None


@dg.asset(
    key=dg.AssetKey(["ml", "candidates"]),
    deps=FEATURE_DEPS,
    group_name="ranking",
    partitions_def=daily,
    backfill_policy=single_run,
    kinds={"python", "postgres"},
    op_tags=step_tags("candidates"),
    description="Per user, the jobs and learning modules worth ranking (skill overlap, sparse retrieval).",
)
def candidates(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, ranking: RankingResource
) -> dg.MaterializeResult:
    from ml.candidates import draw_candidates

    config = ranking.config()
    start, end = window_of(context)
    with transient_db_retries(context):
        # A range run (backfill) draws only the dates this and the coming nights' training reads (the
        # ranker's windows decide them), past ones for a sample of users.
        reports = draw_candidates(warehouse.params(), start, end, config.ranker, config.candidates)
    last = reports[-1]
    return dg.MaterializeResult(
        metadata={
            **plain(last.to_metadata()),
            "as_of_dates": len(reports),
            "dagster/row_count": last.job_candidates + last.module_candidates,
        }
    )


@dg.asset(
    key=dg.AssetKey(["ml", "ranker_challenger"]),
    deps=[dg.AssetKey(["ml", "candidates"]), *TRAINING_DEPS],
    group_name="ranking",
    partitions_def=daily,
    backfill_policy=single_run,
    kinds={"lightgbm", "mlflow"},
    op_tags=step_tags("ranker_challenger"),
    description=(
        "Tonight's LightGBM LambdaRank model, trained on feedback before the split, registered as challenger."
    ),
)
def ranker_challenger(
    context: dg.AssetExecutionContext,
    config: ChallengerEvaluation,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    ranking: RankingResource,
    signals: SignalsResource,
) -> dg.MaterializeResult:
    from ml.train import train_and_register

    _, end = window_of(context)
    with transient_db_retries(context, "training"):
        result = train_and_register(
            warehouse.params(),
            end,
            ranking.config().ranker,
            mlflow.tracking_uri,
            mlflow.artifact_root,
            oracle_dir=config.oracle_dir,
            pii_key=signals.pii_key,  # the oracle knows generator ids, the warehouse their pseudonyms
        )
    meta = result.to_metadata()
    return dg.MaterializeResult(
        metadata={
            **plain({k: v for k, v in meta.items() if k != "metrics"}),
            **{f"metric/{k}": v for k, v in meta["metrics"].items()},
        }
    )


@dg.asset_check(
    asset=ranker_challenger,
    name="promotion_gate",
    blocking=True,
    description="Promote the challenger only if it beats the champion by a margin and passes the bias rule.",
)
def promotion_gate(
    context: dg.AssetCheckExecutionContext,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    ranking: RankingResource,
) -> dg.AssetCheckResult:
    from ml.gate import promote_if_better
    from monitoring.review import review_challenger

    domain = ranking.config().ranker
    _, end = window_of(context)
    # Monitoring first: a critical drift of the model's inputs or a failed bias rule refuses the
    # challenger before it is compared (the champion keeps serving, as with any refusal).
    with transient_db_retries(context, "the challenger's monitoring review"):
        review = review_challenger(
            warehouse.params(),
            context.run.run_id,
            end,
            mlflow.tracking_uri,
            domain.model_name,
            Path(warehouse.state_dir) / "monitoring",
        )
    monitoring_meta = {
        "monitoring_verdict": review.verdict.status,
        "monitoring": dg.MetadataValue.json(review.summary()),
    }
    if review.drift.report_path is not None:
        monitoring_meta["drift_report"] = dg.MetadataValue.path(str(review.drift.report_path))
    if not review.verdict.allows:
        return dg.AssetCheckResult(
            passed=False,
            severity=dg.AssetCheckSeverity.WARN,
            description="monitoring refused the challenger: " + "; ".join(review.verdict.blocked),
            metadata={
                "promoted": False,
                "challenger_version": str(review.challenger_version),
                "reasons": dg.MetadataValue.json(review.verdict.blocked),
                **monitoring_meta,
            },
        )
    with transient_db_retries(context, "the promotion gate"):
        decision = promote_if_better(warehouse.params(), mlflow.tracking_uri, domain)
    meta = decision.to_metadata()
    return dg.AssetCheckResult(
        passed=decision.promoted,
        # A refused challenger is news, not an outage: the champion keeps serving.
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(decision.reasons),
        metadata={
            "promoted": decision.promoted,
            "champion_version": str(decision.champion_version),
            "challenger_version": str(decision.challenger_version),
            "reasons": dg.MetadataValue.json(meta["reasons"]),
            "metrics": dg.MetadataValue.json(meta["metrics"]),
            "rules": dg.MetadataValue.json(meta["rules"]),
            **monitoring_meta,
        },
    )


@dg.asset(
    key=dg.AssetKey(["marts_build", "recommendations"]),
    deps=[dg.AssetKey(["ml", "ranker_challenger"])],  # after the gate decided who serves
    group_name="ranking",
    partitions_def=daily,
    backfill_policy=single_run,
    kinds={"lightgbm", "postgres"},
    op_tags=step_tags("recommendations"),
    description="Top jobs and learning modules per user from the champion, with scores and model version.",
)
def recommendations(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
    ranking: RankingResource,
) -> dg.MaterializeResult:
    from ml.scoring import score

    ranker = ranking.config().ranker
    _, end = window_of(context)
    with transient_db_retries(context):
        report = score(
            warehouse.params(),
            end,
            mlflow.tracking_uri,
            model_name=ranker.model_name,
            dask_address=ranker.dask_address,
        )
    return dg.MaterializeResult(
        metadata={**plain(report.to_metadata()), "dagster/row_count": report.job_rows + report.module_rows}
    )


RECOMMENDATION_TABLES = ("recommendations_jobs", "recommendations_modules")

gx_checks = [suite_check(s.suite, s.asset_key, windowed=s.windowed) for s in RECOMMENDATION_SUITES]

# Recommendations never go out unchecked, and never wait on the dashboards' marts either.
published_recommendations = publish_asset(
    "recommendations_published",
    [PublishSpec(t, "window", "as_of_date", RECOMMENDATION_RETENTION_DAYS) for t in RECOMMENDATION_TABLES],
    [recommendations.key],
    required_suites=[s.suite.name for s in RECOMMENDATION_SUITES],
    description="Tonight's recommendations, published after their suites passed (one transaction).",
    lookback_days=LOOKBACK_DAYS,
)

ASSETS = [candidates, ranker_challenger, recommendations, published_recommendations]
CHECKS = [promotion_gate, *gx_checks]
