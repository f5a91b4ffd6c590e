"""Bias: does the ranking serve every gender, age band and region equally well?

For the business and the law: a recommendation product must not give one protected group systematically
worse opportunities. Measured on a ranking with known outcomes (the challenger's validation queries:
one user's candidates of one item type on one as-of date whose label window has closed), per attribute
and group, over the queries with at least one item the user engaged with:

- `selection_rate` (fairlearn `MetricFrame`, `selection_rate`): share of the group's queries with an
  engaged-with item in the top k: how often the group is offered something it wants when there is one;
- `exposure` (ours; fairlearn has none for rankings, fairlearn#945): the position-weighted attention
  (1 / log2(1 + rank)) the group's engaged-with items receive in the top k, as a share of the best
  possible (all of them on top): how high, not only whether, the right items are shown;
- `ndcg10` by group, reported (no rule of its own: it mixes the two above with grades).

Rule: for each attribute, lowest / highest group value >= `threshold` (the four-fifths rule) for both
selection rate and exposure, among groups with at least `min_group_queries` queries ("unknown" excluded).
A group fails only when the shortfall is more than sampling noise: even its value plus `z` standard errors
is below `threshold` times the best group's value. On the demo's 500 users a group holds ~50-150 judged
queries, and the observed ratio of two equally served groups falls below 0.8 by chance alone.
Protected attributes come from `marts_build.dim_users` and are never model features. What was actually
served (recommendation lists, plans) is judged by `monitoring.served_bias` with the same rule (`judge`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from core.database import PgParams, connect

PROTECTED_ATTRIBUTES = ("gender", "age_band", "region")
RULED_METRICS = ("selection_rate", "exposure")


@dataclass(frozen=True)
class BiasConfig:
    k: int = 10
    threshold: float = 0.8
    min_group_queries: int = 20
    z: float = 1.96  # the shortfall must exceed this many standard errors of the group's value
    attributes: tuple[str, ...] = PROTECTED_ATTRIBUTES


@dataclass
class BiasRow:
    surface: str
    attribute: str
    group_value: str
    metric: str
    value: float | None
    ratio: float | None
    threshold: float | None
    passed: bool | None
    users: int


@dataclass
class BiasResult:
    as_of_date: date
    rows: list[BiasRow] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(r.passed is False for r in self.rows) and any(r.passed for r in self.rows)


def per_query(frame: pd.DataFrame, k: int) -> pd.DataFrame:
    """One row per judged query: hit (an engaged item in the top k), exposure share, ndcg10.

    `frame`: user_key, item_type, as_of_date, item_id, score, grade (0 = no engagement).
    """
    f = frame.sort_values(["as_of_date", "user_key", "item_type", "score", "item_id"],
                          ascending=[True, True, True, False, True]).reset_index(drop=True)  # fmt: skip
    keys = ["as_of_date", "user_key", "item_type"]
    f["rank"] = f.groupby(keys, sort=False).cumcount() + 1
    rel = (f["grade"] > 0).astype(float)
    disc = 1.0 / np.log2(1.0 + f["rank"])
    f["exp"] = rel * disc * (f["rank"] <= k)
    f["hit"] = rel * (f["rank"] <= k)
    f["gain"] = (2.0 ** f["grade"] - 1.0) * disc * (f["rank"] <= 10)
    f["rel"] = rel
    g = f.groupby(keys, sort=False)
    out = pd.DataFrame(
        {"n_rel": g["rel"].sum(), "exp": g["exp"].sum(), "hit": g["hit"].max(), "dcg": g["gain"].sum()}
    )
    # Ideal: all engaged items on top (exposure), grades descending (NDCG).
    ideal = f.sort_values([*keys, "grade"], ascending=[True, True, True, False])
    ideal["irank"] = ideal.groupby(keys, sort=False).cumcount() + 1
    ideal["idisc"] = 1.0 / np.log2(1.0 + ideal["irank"])
    ideal["iexp"] = (ideal["grade"] > 0) * ideal["idisc"] * (ideal["irank"] <= k)
    ideal["igain"] = (2.0 ** ideal["grade"] - 1.0) * ideal["idisc"] * (ideal["irank"] <= 10)
    ig = ideal.groupby(keys, sort=False)
    out["iexp"] = ig["iexp"].sum()
    out["idcg"] = ig["igain"].sum()
    out = out[out["n_rel"] > 0].reset_index()
    out["exposure"] = out["exp"] / out["iexp"]
    out["ndcg10"] = np.where(out["idcg"] > 0, out["dcg"] / out["idcg"], np.nan)
    return out[[*keys, "n_rel", "hit", "exposure", "ndcg10"]]


def bias_by_group(
    queries: pd.DataFrame, groups: pd.DataFrame, surface: str, as_of: date, config: BiasConfig
) -> BiasResult:
    """Apply the rule per attribute to `per_query` output joined to the users' protected attributes."""
    from fairlearn.metrics import MetricFrame, selection_rate

    result = BiasResult(as_of)
    merged = queries.merge(groups.drop_duplicates("user_key"), on="user_key", how="left")
    for attribute in config.attributes:
        if attribute not in merged.columns:
            result.reasons.append(f"{surface}: {attribute} not available, not evaluated")
            continue
        group = merged[attribute].fillna("unknown").astype(str)
        frame = MetricFrame(
            metrics={"selection_rate": selection_rate},
            y_true=np.ones(len(merged)),  # every judged query had something worth selecting
            y_pred=merged["hit"].astype(int).to_numpy(),
            sensitive_features=group.rename(attribute),
        )
        by = merged.groupby(group)
        stats = pd.DataFrame({"n": group.value_counts(), "selection_rate": frame.by_group["selection_rate"]})
        stats["exposure"], stats["exposure_sd"] = by["exposure"].mean(), by["exposure"].std(ddof=1)
        stats["ndcg10"] = by["ndcg10"].mean()
        judge(result, surface, attribute, stats, RULED_METRICS, ("ndcg10",), config)
    return result


# Metrics that are a share of the group's units (binomial standard error); the others are means.
PROPORTIONS = frozenset({"selection_rate", "full_list_share", "provider_share"})
# Metrics of a ranking's top k (named with their cut-off in the reasons); the plans' have none.
TOP_K_METRICS = frozenset({"selection_rate", "exposure", "full_list_share", "list_exposure"})


def judge(result: BiasResult, surface: str, attribute: str, stats: pd.DataFrame, ruled: tuple[str, ...],
          reported: tuple[str, ...], config: BiasConfig, unit: str = "queries") -> None:  # fmt: skip
    """The four-fifths rule with its small-group and sampling-noise guards, on one attribute's groups.

    `stats`: one row per group (index), `n` (its units: queries, users, plans), each metric's value and,
    for a ruled metric that is a mean, its sample standard deviation as `<metric>_sd` (a share's standard
    error is binomial). Every metric of `ruled` must be higher-is-better. Appends rows and reasons.
    """
    stats = stats.copy()
    stats.index = stats.index.map(str)
    n = stats["n"].astype(float)
    rated = [g for g in stats.index if stats.at[g, "n"] >= config.min_group_queries and g != "unknown"]
    for metric in (*ruled, *reported):
        if metric in PROPORTIONS:
            p = stats[metric]
            stderr = np.sqrt(p * (1 - p) / n)
        else:
            stderr = stats.get(f"{metric}_sd", pd.Series(0.0, index=stats.index)).fillna(0) / np.sqrt(n)
        in_metric_rule = metric in ruled and len(rated) >= 2
        best = stats.loc[rated, metric].max() if rated else np.nan
        for g, value in stats[metric].items():
            in_rule = in_metric_rule and g in rated
            ratio = float(value / best) if in_rule and best > 0 else (1.0 if in_rule else None)
            passed = None
            if in_rule:
                upper = value + config.z * float(stderr[g])
                passed = bool(
                    (ratio is not None and ratio >= config.threshold) or upper >= config.threshold * best
                )
            result.rows.append(
                BiasRow(surface, attribute, str(g), metric, _num(value), ratio,
                        config.threshold if in_rule else None, passed, int(stats.at[g, "n"]))
            )  # fmt: skip
            if passed is False:
                name = f"{metric}@{config.k}" if metric in TOP_K_METRICS else metric
                result.reasons.append(
                    f"{surface}: {attribute}={g} {name} {value:.3f} is {ratio:.2f} of the "
                    f"best group's {best:.3f} (< {config.threshold}, beyond {config.z:g} standard errors)"
                )
    if len(rated) < 2:
        result.reasons.append(f"{surface}: {attribute} has fewer than two groups of "
                              f">= {config.min_group_queries} {unit}: rule not evaluated")  # fmt: skip


def _num(value) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def protected_columns(conn) -> list[str]:
    """The protected attributes `marts_build.dim_users` has, in PROTECTED_ATTRIBUTES order (raises when
    the table is missing: bias is never silently skipped)."""
    cols = {
        r[0]
        for r in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'marts_build' and table_name = 'dim_users'"
        ).fetchall()
    }
    if "user_key" not in cols:
        raise RuntimeError("marts_build.dim_users is missing: protected attributes unknown, bias not shown")
    return [a for a in PROTECTED_ATTRIBUTES if a in cols]


def load_groups(params: PgParams) -> pd.DataFrame:
    """Protected attributes per user (`marts_build.dim_users`)."""
    with connect(params) as conn:
        picks = ["user_key", *protected_columns(conn)]
        rows = conn.execute(f"select {', '.join(picks)} from marts_build.dim_users").fetchall()
    return pd.DataFrame(rows, columns=picks)


QUERY_COLUMNS = ["as_of_date", "user_key", "item_type", "n_rel", "hit", "exposure", "ndcg10"]
PER_QUERY_ARTIFACT = "evaluation/per_query.csv.gz"  # written by ml.train with the challenger's run


def challenger_queries(params: PgParams, tracking_uri: str, model_name: str, k: int = 10
                       ) -> tuple[pd.DataFrame, str, str]:  # fmt: skip
    """The challenger's judged validation queries as `per_query` returns them, its version, and the source.

    Training scored the challenger on its validation sample (the dates, label window, size and seed its
    run's tags carry, the sample the promotion gate re-scores) and kept one row per query with the run
    (`evaluation/per_query.csv.gz`, `ml.evaluation.per_query_metrics`: the same ranks, ties by item id,
    hit, exposure and NDCG@10 as `per_query`). That artifact is read when it was computed with this top k
    (`source` "training"): at tier M, loading the ~50k queries' pairs again and scoring them took ~34 s of
    the night's 60 s monitoring budget. A run without it (trained before exposure was kept, or with
    another k) is scored again from the warehouse (`source` "rescored"), and so is a night with a single
    usable as-of date (`split` "user_holdout"): there training validated on held-out users drawn from a
    larger sample, not on the gate's sample, and the rule must judge what the gate judges. (Judged on the
    held-out users, a fair tier-S world's challenger was refused on 23 queries of one age band.)
    """
    from mlflow.exceptions import MlflowException

    from ml.registry import tracking

    with tracking(tracking_uri) as client:
        try:
            version = str(client.get_model_version_by_alias(model_name, "challenger").version)
        except MlflowException as error:
            raise RuntimeError(f"model {model_name!r} has no challenger: nothing to judge") from error
        run = client.get_run(client.get_model_version(model_name, version).run_id)
        if run.data.params.get("bias_k") == str(k) and run.data.tags.get("split") == "time":
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                try:
                    path = client.download_artifacts(run.info.run_id, PER_QUERY_ARTIFACT, tmp)
                except (MlflowException, OSError):
                    path = None
                stored = (
                    pd.read_csv(path, dtype={"user_key": str, "item_type": str}) if path is not None else None
                )
            if stored is not None and set(QUERY_COLUMNS) <= set(stored.columns):
                stored["as_of_date"] = pd.to_datetime(stored["as_of_date"]).dt.date
                judged = stored[stored["n_rel"] > 0][QUERY_COLUMNS].reset_index(drop=True)
                return judged, version, "training"
    frame, version = challenger_rankings(params, tracking_uri, model_name)
    parts = [per_query(part, k) for _, part in frame.groupby("item_type")]
    queries = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=QUERY_COLUMNS)
    return queries, version, "rescored"


def challenger_rankings(params: PgParams, tracking_uri: str, model_name: str) -> tuple[pd.DataFrame, str]:
    """The challenger's scores on its own validation sample (dates, label window, size and seed from its
    MLflow run, `ml.window.ValidationSample`), loaded and scored again.

    Returns the frame `per_query` reads and the challenger's version. Uses ml's loaders, so the pairs are
    exactly those the promotion gate evaluates.
    """
    from ml.config import RankerConfig
    from ml.features import load_pairs, model_matrix, sort_pairs
    from ml.ranker import predict
    from ml.registry import load_version, version_run
    from ml.window import ValidationSample

    loaded = load_version(tracking_uri, model_name, "challenger")
    if loaded is None:
        raise RuntimeError(f"model {model_name!r} has no challenger: nothing to judge")
    booster, version = loaded
    _, tags = version_run(tracking_uri, model_name, version)
    sample = ValidationSample.from_tags(tags, RankerConfig())
    with connect(params) as conn:
        pairs = load_pairs(conn, sample.dates, sample.label_window_days, judged_only=True,
                           max_queries=sample.max_queries, seed=sample.seed)  # fmt: skip
    pairs = sort_pairs(pairs)
    scores = predict(booster, model_matrix(pairs, booster.feature_name()).x)
    frame = pairs[["as_of_date", "user_key", "item_type", "item_id", "grade"]].assign(score=scores)
    return frame, str(version)


def record(params: PgParams, run_id: str, result: BiasResult) -> int:
    """Replace this run's bias rows for the day (idempotent re-run)."""
    surfaces = sorted({r.surface for r in result.rows})
    with connect(params) as conn:
        conn.execute(
            "delete from monitoring.bias_results where run_id = %s and as_of_date = %s and surface = any(%s)",
            (run_id, result.as_of_date, surfaces),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into monitoring.bias_results (run_id, as_of_date, surface, attribute, group_value,"
                " metric, value, ratio, threshold, passed, users) values (%s, %s, %s, %s, %s, %s, %s, %s, %s,"
                " %s, %s)",
                [
                    (run_id, result.as_of_date, r.surface, r.attribute, r.group_value, r.metric, r.value,
                     r.ratio, r.threshold, r.passed, r.users)
                    for r in result.rows
                ],
            )  # fmt: skip
    return len(result.rows)
