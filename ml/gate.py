"""The promotion gate: does tonight's challenger earn `champion`, and why (not).

The challenger and the serving champion are re-scored on the challenger's own validation sample (the
same dates, label window, sample size and seed, read from its MLflow run), so the two NDCG@10 are
comparable. The challenger is promoted only when it beats the champion by `promotion_margin` and
passes the bias rule (`ml.bias`, four-fifths rule on selection rates); the first model must beat every
baseline instead. Otherwise the champion keeps serving and the decision's reasons say why, in the
challenger's run and in the returned `GateDecision`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.database import PgParams, connect
from ml.bias import bias_report, load_groups
from ml.config import RankerConfig
from ml.evaluation import baseline_scores, per_query_metrics, summarize
from ml.features import load_pairs, model_matrix, sort_pairs
from ml.ranker import Booster, predict
from ml.registry import CHALLENGER, CHAMPION, load_version, record_gate, version_run
from ml.window import ValidationSample


@dataclass
class GateDecision:
    """The blocking evaluation check's verdict: did the challenger become champion, and why (not)."""

    promoted: bool
    reasons: list[str]
    champion_version: str | None  # the version serving after the decision
    challenger_version: str
    metrics: dict[str, float] = field(default_factory=dict)
    # The rules this decision applied (margins, bias threshold, validation sample): what to change if
    # the verdict is wrong for the business.
    rules: dict[str, Any] = field(default_factory=dict)

    def to_metadata(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "reasons": list(self.reasons),
            "champion_version": self.champion_version,
            "challenger_version": self.challenger_version,
            "metrics": {k: round(float(v), 5) for k, v in self.metrics.items()},
            "rules": dict(self.rules),
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
    params: PgParams | None,
    tracking_uri: str,
    config: RankerConfig,
    challenger_version: str | None = None,
    validation: pd.DataFrame | None = None,
    groups: pd.DataFrame | None = None,
) -> GateDecision:
    """Evaluate challenger and champion on the challenger's validation sample; move `champion` if earned.

    The sample (dates, label window, size, seed) is read from the challenger's run, the labelled pairs
    from the warehouse (`validation` / `groups` may be passed instead, e.g. in tests; `params` is then not
    used). The decision is logged to the challenger's run (`gate.json`, tag `gate_promoted`).
    """
    challenger = load_version(tracking_uri, config.model_name, challenger_version or CHALLENGER)
    if challenger is None:
        raise ValueError(f"model {config.model_name!r} has no version {challenger_version or CHALLENGER!r}")
    chall_booster, chall_version = challenger
    champion = load_version(tracking_uri, config.model_name, CHAMPION)

    run_id, tags = version_run(tracking_uri, config.model_name, chall_version)
    sample = ValidationSample.from_tags(tags, config)
    sample_rule: dict[str, Any] | str = "pairs given by the caller"
    if validation is None or groups is None:
        if params is None:
            raise ValueError("the gate reads the validation sample from the warehouse: pass params")
        with connect(params) as conn:
            if validation is None:
                sample_rule = sample.to_metadata()
                validation = load_pairs(
                    conn,
                    sample.dates,
                    sample.label_window_days,
                    judged_only=True,
                    max_queries=sample.max_queries,
                    seed=sample.seed,
                )
            if groups is None:
                groups = load_groups(conn)
    validation = sort_pairs(validation)

    def evaluate(booster: Booster) -> pd.DataFrame:
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
    serving = chall_version if promoted else (champion[1] if champion is not None else None)
    rules = {
        "promotion_margin": config.promotion_margin,
        "baseline_margin": config.baseline_margin,
        "bias_threshold": config.bias_threshold,
        "bias_k": config.bias_k,
        "min_group_queries": config.min_group_queries,
        "validation_sample": sample_rule,
    }
    decision = GateDecision(promoted, reasons, serving, chall_version, metrics, rules)
    record_gate(tracking_uri, config.model_name, run_id, chall_version, promoted, decision.to_metadata())
    return decision
