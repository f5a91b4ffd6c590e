"""Ranking: candidates → nightly challenger → promotion gate → recommendations from the champion.

The gate is a blocking evaluation check on the challenger. It moves the `champion` alias only when
the challenger beats the serving champion by a margin on the same validation window AND passes the
bias rule. A refused challenger is a WARN (the champion keeps serving and tonight's
recommendations still refresh; the check says why); an evaluation that cannot run is an ERROR and
blocks scoring and publication.
"""

from dataclasses import fields
from pathlib import Path

import dagster as dg

from assets.warehouse import LOOKBACK_DAYS
from core.publish import PublishSpec
from quality.mart_suites import RECOMMENDATION_SUITES
from runtime.gx import suite_check
from runtime.metadata import plain
from runtime.partitions import daily, single_run, window_of
from runtime.publishing import publish_asset
from runtime.resources import MlflowResource, WarehouseResource
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


class RankerSettings(dg.Config):
    """Tunable hyper-parameters and gate rules (defaults: ml.train.RankerConfig)."""

    num_leaves: int = 31
    learning_rate: float = 0.05
    n_estimators: int = 300
    min_child_samples: int = 50
    early_stopping_rounds: int = 30
    seed: int = 7
    label_window_days: int = 7
    train_window_dates: int = 7
    max_train_queries: int = 60_000
    max_valid_queries: int = 50_000
    promotion_margin: float = 0.005
    bias_threshold: float = 0.8
    dask_address: str | None = None
    # The generator's latent truth, for offline evaluation of demo and scale runs only: it adds the
    # oracle's NDCG to the run's metrics and never reaches training or scoring.
    oracle_dir: str | None = None

    def to_domain(self):
        from ml.train import RankerConfig

        known = {f.name for f in fields(RankerConfig)}
        return RankerConfig(**{k: v for k, v in self.model_dump().items() if k in known})


@dg.asset(
    key=dg.AssetKey(["ml", "candidates"]),
    deps=FEATURE_DEPS,
    group_name="ranking",
    partitions_def=daily,
    backfill_policy=single_run,
    kinds={"python", "postgres"},
    description="Per user, the jobs and learning modules worth ranking (skill overlap, sparse retrieval).",
)
def candidates(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from ml.candidates import CandidateConfig, generate_candidates, read_retrieval_inputs
    from ml.train import RankerConfig, dates_to_draw

    params = warehouse.params()
    config = CandidateConfig()
    start, end = window_of(context)
    reports = []
    with transient_db_retries(context):
        inputs = read_retrieval_inputs(params)
        # A range run (backfill) draws only the dates this and the coming nights' training reads, past
        # ones for a sample of users (they train, they are not served).
        for day in dates_to_draw(start, end, RankerConfig()):
            sample = None if day == end else config.backfill_users
            reports.append(generate_candidates(params, day, config, n_users=sample, inputs=inputs))
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
    description=(
        "Tonight's LightGBM LambdaRank model, trained on feedback before the split, registered as challenger."
    ),
)
def ranker_challenger(
    context: dg.AssetExecutionContext,
    config: RankerSettings,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> dg.MaterializeResult:
    from ml.train import train_and_register

    _, end = window_of(context)
    result = train_and_register(
        warehouse.params(),
        end,
        config.to_domain(),
        mlflow.tracking_uri,
        mlflow.artifact_root,
        oracle_dir=config.oracle_dir,
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
    config: RankerSettings,
    warehouse: WarehouseResource,
    mlflow: MlflowResource,
) -> dg.AssetCheckResult:
    from ml.registry import promote_if_better
    from monitoring.review import review_challenger

    domain = config.to_domain()
    _, end = window_of(context)
    # Monitoring first: a critical drift of the model's inputs or a failed bias rule refuses the
    # challenger before it is compared (the champion keeps serving, as with any refusal).
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
    description="Top jobs and learning modules per user from the champion, with scores and model version.",
)
def recommendations(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, mlflow: MlflowResource
) -> dg.MaterializeResult:
    from ml.scoring import score

    _, end = window_of(context)
    with transient_db_retries(context):
        report = score(warehouse.params(), end, mlflow.tracking_uri)
    return dg.MaterializeResult(
        metadata={**plain(report.to_metadata()), "dagster/row_count": report.job_rows + report.module_rows}
    )


RECOMMENDATION_TABLES = ("recommendations_jobs", "recommendations_modules")

gx_checks = [suite_check(s.suite, s.asset_key, windowed=s.windowed) for s in RECOMMENDATION_SUITES]

# Recommendations never go out unchecked, and never wait on the dashboards' marts either.
published_recommendations = publish_asset(
    "recommendations_published",
    [PublishSpec(t, "window", "as_of_date") for t in RECOMMENDATION_TABLES],
    [recommendations.key],
    required_suites=[s.suite.name for s in RECOMMENDATION_SUITES],
    description="Tonight's recommendations, published after their suites passed (one transaction).",
    lookback_days=LOOKBACK_DAYS,
)

ASSETS = [candidates, ranker_challenger, recommendations, published_recommendations]
CHECKS = [promotion_gate, *gx_checks]
