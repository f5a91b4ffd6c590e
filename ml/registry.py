"""MLflow: every training is a run, every model a registered version; aliases say who serves.

`challenger` = the latest trained version; `champion` = the version batch scoring uses. Only
`promote_if_better` moves `champion`, and only when the challenger beats it by a margin on the same
validation window and passes the bias rule (the first model: when it beats the baselines). Otherwise the
champion keeps serving and the decision's reasons say why, in the run and in the returned GateDecision.

The tracking URI is passed per call and restored afterwards (no process-global leaks between callers);
SQLite + local artifacts by default (core.settings), a tracking server in production.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

EXPERIMENT = "kairoo-ranking"
CHAMPION = "champion"
CHALLENGER = "challenger"


@lru_cache(maxsize=8)
def client_for(tracking_uri: str):
    """One MlflowClient per tracking URI and process (building one cost ~0.7 s: store + engine set-up)."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


@contextmanager
def tracking(tracking_uri: str) -> Iterator[object]:
    """Point MLflow's fluent API at `tracking_uri` for the block; yields an explicit MlflowClient."""
    import mlflow

    previous, previous_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    try:
        yield client_for(tracking_uri)
    finally:
        mlflow.set_tracking_uri(previous)
        mlflow.set_registry_uri(previous_registry)


def _experiment_id(client, artifact_root: str) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return found.experiment_id
    location = Path(artifact_root).resolve()
    location.mkdir(parents=True, exist_ok=True)
    return client.create_experiment(EXPERIMENT, artifact_location=location.as_uri())


def pip_requirements() -> list[str]:
    """Explicit requirements: inferring them cost 9–17 s per logged model here, explicit 0.1 s."""
    import lightgbm
    import mlflow
    import numpy
    import pandas
    import scipy

    return [
        f"mlflow=={mlflow.__version__}",
        f"lightgbm=={lightgbm.__version__}",
        f"numpy=={numpy.__version__}",
        f"pandas=={pandas.__version__}",
        f"scipy=={scipy.__version__}",
    ]


def log_and_register(
    trained, config, tracking_uri: str, artifact_root: str, as_of: date, split
) -> tuple[str, str]:
    """Log the training run (params, window, features, metrics, evaluation artifacts) and register the model.

    Returns (run_id, model version); the version gets the `challenger` alias.
    """
    import mlflow
    import mlflow.lightgbm
    from mlflow.models import infer_signature

    with tracking(tracking_uri) as client:
        experiment_id = _experiment_id(client, artifact_root)
        with mlflow.start_run(experiment_id=experiment_id, run_name=f"ranker-{as_of.isoformat()}") as run:
            mlflow.log_params({k: v for k, v in asdict(config).items() if v is not None})
            mlflow.log_params(
                {
                    "as_of_date": as_of.isoformat(),
                    "split": split.kind,
                    "train_dates": ",".join(d.isoformat() for d in split.train_dates),
                    "valid_dates": ",".join(d.isoformat() for d in split.valid_dates),
                    "train_rows": trained.train_rows,
                    "train_queries": trained.train_queries,
                    "valid_rows": trained.valid_rows,
                    "best_iteration": trained.best_iteration,
                    "n_features": len(trained.features),
                }
            )
            mlflow.set_tags(
                {
                    "valid_dates": ",".join(d.isoformat() for d in split.valid_dates),
                    "label_window_days": str(config.label_window_days),
                    "split": split.kind,
                }
            )
            mlflow.log_metrics(trained.metrics)
            mlflow.log_dict({"features": trained.features}, "features.json")
            with tempfile.TemporaryDirectory() as tmp:
                _write_evaluation_artifacts(Path(tmp), trained)
                mlflow.log_artifacts(tmp, "evaluation")
            example = pd.DataFrame(
                np.zeros((2, len(trained.features)), dtype=np.float32), columns=trained.features
            )
            signature = infer_signature(example, np.zeros(2, dtype=np.float64))
            info = mlflow.lightgbm.log_model(
                trained.booster,
                name="model",
                signature=signature,
                pip_requirements=pip_requirements(),
                registered_model_name=config.model_name,
            )
            version = str(info.registered_model_version)
        client.set_registered_model_alias(config.model_name, CHALLENGER, version)
        client.set_model_version_tag(config.model_name, version, "run_id", run.info.run_id)
    return run.info.run_id, version


def _write_evaluation_artifacts(folder: Path, trained) -> None:
    """Evaluation table, bias table, per-query metrics and a comparison plot."""
    trained.evaluation.to_csv(folder / "rankers.csv", index_label="ranker")
    trained.per_query.to_csv(folder / "per_query.csv.gz", index=False)
    if trained.bias is not None:
        trained.bias.table.to_csv(folder / "bias_groups.csv", index=False)
        (folder / "bias.json").write_text(json.dumps(trained.bias.to_metadata(), indent=2))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are a convenience; the tables carry the numbers
        return
    fig, ax = plt.subplots(figsize=(6, 3))
    trained.evaluation["ndcg10"].plot.barh(ax=ax, color="#4a7ab5")
    ax.set_xlabel("NDCG@10 on the validation window")
    fig.tight_layout()
    fig.savefig(folder / "ndcg10.png", dpi=100)
    plt.close(fig)


def load_version(tracking_uri: str, model_name: str, alias_or_version: str):
    """(booster, version) for an alias (`champion`, `challenger`) or a version number; None if unset."""
    import mlflow.lightgbm
    from mlflow.exceptions import MlflowException

    with tracking(tracking_uri) as client:
        try:
            if alias_or_version.isdigit():
                version = alias_or_version
            else:
                version = str(client.get_model_version_by_alias(model_name, alias_or_version).version)
        except MlflowException:
            return None
        booster = mlflow.lightgbm.load_model(f"models:/{model_name}/{version}")
    return booster, version


@dataclass
class GateDecision:
    """The blocking evaluation check's verdict: did the challenger become champion, and why (not)."""

    promoted: bool
    reasons: list[str]
    champion_version: str | None  # the version serving after the decision
    challenger_version: str
    metrics: dict[str, float] = field(default_factory=dict)

    def to_metadata(self) -> dict:
        return {
            "promoted": self.promoted,
            "reasons": list(self.reasons),
            "champion_version": self.champion_version,
            "challenger_version": self.challenger_version,
            "metrics": {k: round(float(v), 5) for k, v in self.metrics.items()},
        }


def decide(
    challenger: dict[str, float],
    champion: dict[str, float] | None,
    baselines: dict[str, float],
    bias_passed: bool,
    bias_reasons: list[str],
    margin: float,
    baseline_margin: float,
) -> tuple[bool, list[str]]:
    """The promotion rule on NDCG@10 of the same validation window. Pure, so it is tested directly."""
    reasons: list[str] = []
    ok = True
    if champion is not None:
        need = champion["ndcg10"] + margin
        if challenger["ndcg10"] >= need:
            reasons.append(
                f"NDCG@10 {challenger['ndcg10']:.4f} beats champion {champion['ndcg10']:.4f} + {margin}"
            )
        else:
            ok = False
            reasons.append(
                f"NDCG@10 {challenger['ndcg10']:.4f} does not beat champion "
                f"{champion['ndcg10']:.4f} + margin {margin}"
            )
    else:
        for name, value in baselines.items():
            need = value * (1 + baseline_margin)
            if challenger["ndcg10"] > need:
                reasons.append(
                    f"first model: NDCG@10 {challenger['ndcg10']:.4f} beats baseline {name} {value:.4f}"
                )
            else:
                ok = False
                reasons.append(
                    f"first model: NDCG@10 {challenger['ndcg10']:.4f} "
                    f"does not beat baseline {name} {value:.4f}"
                )
    if bias_passed:
        reasons.append("bias rule passed (selection-rate ratio >= threshold for every attribute)")
    else:
        ok = False
        reasons += [f"bias rule failed: {r}" for r in bias_reasons] or ["bias rule failed"]
    return ok, reasons


def promote_if_better(
    params,
    tracking_uri: str,
    config,
    challenger_version: str | None = None,
    validation: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
) -> GateDecision:
    """Evaluate challenger and champion on the challenger's validation window; move `champion` if earned.

    The window (dates, label window) is read from the challenger's run, the labelled pairs from the
    warehouse (`validation` / `groups` may be passed instead, e.g. in tests). The decision is logged to the
    challenger's run (`gate.json`, tag `gate_promoted`).
    """
    from ml.bias import bias_report, load_groups
    from ml.evaluation import baseline_scores, per_query_metrics, summarize
    from ml.features import load_pairs, model_matrix, sort_pairs
    from ml.train import predict

    challenger = load_version(tracking_uri, config.model_name, challenger_version or CHALLENGER)
    if challenger is None:
        raise ValueError(f"model {config.model_name!r} has no version {challenger_version or CHALLENGER!r}")
    chall_booster, chall_version = challenger
    champion = load_version(tracking_uri, config.model_name, CHAMPION)

    with tracking(tracking_uri) as client:
        run_id = client.get_model_version(config.model_name, chall_version).run_id
        run = client.get_run(run_id)
    if validation is None or groups is None:
        from core.database import connect

        dates = [date.fromisoformat(d) for d in run.data.tags["valid_dates"].split(",")]
        window = int(run.data.tags["label_window_days"])
        with connect(params) as conn:
            if validation is None:
                # The challenger's validation sample (same dates, window, size and seed).
                validation = load_pairs(
                    conn,
                    dates,
                    window,
                    judged_only=True,
                    max_queries=config.max_valid_queries,
                    seed=config.seed,
                )
            if groups is None:
                groups = load_groups(conn)
    validation = sort_pairs(validation)

    def evaluate(booster) -> pd.DataFrame:
        features = booster.feature_name()
        scores = predict(booster, model_matrix(validation, features).x, config.predict_chunk_rows)
        return per_query_metrics(validation, scores, hit_k=config.bias_k)

    chall_pq = evaluate(chall_booster)
    chall_metrics = summarize(chall_pq)
    metrics = {f"challenger_{k}": v for k, v in chall_metrics.items()}
    champ_metrics = None
    if champion is not None and champion[1] != chall_version:
        champ_metrics = summarize(evaluate(champion[0]))
        metrics.update({f"champion_{k}": v for k, v in champ_metrics.items()})
    baselines = {
        name: summarize(per_query_metrics(validation, s))["ndcg10"]
        for name, s in baseline_scores(validation).items()
    }
    metrics.update({f"{name}_ndcg10": v for name, v in baselines.items()})
    if groups is None:
        bias_passed, bias_reasons = (
            False,
            ["no protected attributes (marts_build.dim_users missing): fairness not shown"],
        )
    else:
        bias = bias_report(chall_pq, groups, config.bias_k, config.bias_threshold, config.min_group_queries)
        bias_passed, bias_reasons = bias.passed, bias.reasons
        metrics.update({f"bias_ratio_{a}": r for a, r in bias.ratios.items()})

    if champion is not None and champion[1] == chall_version:
        promoted, reasons = False, [f"version {chall_version} is already champion"]
    else:
        promoted, reasons = decide(
            chall_metrics,
            champ_metrics,
            baselines,
            bias_passed,
            bias_reasons,
            config.promotion_margin,
            config.baseline_margin,
        )
    serving = champion[1] if champion is not None else None
    with tracking(tracking_uri) as client:
        if promoted:
            client.set_registered_model_alias(config.model_name, CHAMPION, chall_version)
            serving = chall_version
        decision = GateDecision(promoted, reasons, serving, chall_version, metrics)
        client.set_tag(run_id, "gate_promoted", str(promoted).lower())
        client.log_dict(run_id, decision.to_metadata(), "gate.json")
        client.log_metric(run_id, "gate_promoted", float(promoted))
    return decision
