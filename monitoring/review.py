"""The two monitoring verdicts the night acts on, as single calls for the orchestration layer.

- `review_challenger`: drift of tonight's inputs (one Evidently HTML report for the night, kept in the
  state folder and logged to the challenger's MLflow run) and bias of the challenger's ranking, recorded,
  then the `challenger_gate` verdict. The promotion gate calls it before it may move `champion`.
- `review_marts`: anomalies of the run's days, recorded, then the `marts_gate` verdict, which holds the
  marts' publication when it blocks.
- `review_served`: bias of tonight's recommendation lists and of yesterday's, judged by today's
  interactions (`monitoring.served_bias`), recorded; they warn on the marts verdict.
- `review_plans`: the plans' anomalies (plan count, LLM spend) and bias of tonight's published plans,
  recorded, then the `plans_gate` verdict. The anomalies are scored here, after the plans were written:
  `review_marts` runs before the plans stage, so tonight's plan count was never scored there (a night
  built from generator data recorded no `plan_cost` row at all, and its plans gate could not block).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from core.database import PgParams
from monitoring import anomalies, bias, drift, gates, served_bias


@dataclass
class ChallengerReview:
    verdict: gates.Verdict
    drift: drift.DriftResult
    bias: list[bias.BiasResult] = field(default_factory=list)
    challenger_version: str | None = None

    def summary(self) -> dict:
        return {
            "status": self.verdict.status,
            "report_path": str(self.drift.report_path) if self.drift.report_path else None,
            "drift_tests": len(self.drift.rows),
            "drift_failed": [f"{r.dataset}/{r.segment}/{r.column_name}" for r in self.drift.failed(False)],
            "drift_skipped": self.drift.skipped,
            "bias_reasons": [reason for b in self.bias for reason in b.reasons],
            **self.verdict.detail(),
        }


def review_challenger(
    params: PgParams,
    run_id: str,
    as_of: date,
    tracking_uri: str,
    model_name: str,
    report_dir: Path,
    drift_config: drift.DriftConfig | None = None,
    bias_config: bias.BiasConfig | None = None,
) -> ChallengerReview:
    """Drift and bias for tonight's challenger, recorded; the challenger gate's verdict, recorded."""
    bias_config = bias_config or bias.BiasConfig()
    night = drift.compute_drift(params, as_of, report_dir, drift_config)
    drift.record(params, run_id, night)
    queries, version, _ = bias.challenger_queries(params, tracking_uri, model_name, bias_config.k)
    groups = bias.load_groups(params)
    results = []
    for item_type, part in queries.groupby("item_type"):
        result = bias.bias_by_group(part, groups, f"challenger_{item_type}s", as_of, bias_config)
        bias.record(params, run_id, result)
        results.append(result)
    if night.report_path is not None:
        _log_report(tracking_uri, model_name, version, night.report_path)
    verdict = gates.night_verdict(params, run_id, as_of, "challenger_gate")
    return ChallengerReview(verdict, night, results, version)


def _log_report(tracking_uri: str, model_name: str, version: str, path: Path) -> None:
    """Keep the night's drift report with the challenger's MLflow run (artifact `monitoring/`)."""
    from ml.registry import tracking

    with tracking(tracking_uri) as client:
        run_id = client.get_model_version(model_name, version).run_id
        client.log_artifact(run_id, str(path), "monitoring")


def review_marts(
    params: PgParams, run_id: str, start: date, end: date, config: anomalies.AnomalyConfig | None = None
) -> tuple[gates.Verdict, list[anomalies.Anomaly]]:
    """Anomalies of the marts' series for each day of [start, end], recorded; the marts gate's verdict for
    the run. (The plans' series are scored by `review_plans`, once tonight's plans exist.)"""
    scored = anomalies.score_days(params, start, end, config, metrics=anomalies.MART_METRICS)
    anomalies.record(params, run_id, scored, metrics=anomalies.MART_METRICS)
    return gates.night_verdict(params, run_id, end, "marts_gate", start=start), scored


def review_served(params: PgParams, run_id: str, as_of: date, config: bias.BiasConfig | None = None
                  ) -> list[bias.BiasResult]:  # fmt: skip
    """Bias of what was served: tonight's lists, and yesterday's judged by `as_of`'s interactions (the
    window of the night's ranking quality), recorded."""
    yesterday = as_of - timedelta(days=1)
    results = served_bias.served_lists(params, as_of, config)
    results += served_bias.judged_lists(params, yesterday, as_of, as_of, as_of, config)
    for result in results:
        bias.record(params, run_id, result)
    return results


def review_plans(
    params: PgParams, run_id: str, start: date, as_of: date, config: bias.BiasConfig | None = None
) -> tuple[gates.Verdict, bias.BiasResult]:
    """Anomalies of the plans' series and bias of tonight's published plans, recorded; the plans gate's
    verdict for the run's days [start, as_of] (plan anomalies, drift and this bias), recorded."""
    scored = anomalies.score_days(params, start, as_of, metrics=anomalies.PLAN_METRICS)
    anomalies.record(params, run_id, scored, metrics=anomalies.PLAN_METRICS)
    result = served_bias.published_plans(params, as_of, config)
    bias.record(params, run_id, result)
    return gates.night_verdict(params, run_id, as_of, "plans_gate", start=start), result
