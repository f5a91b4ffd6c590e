"""Fairness of the ranking across protected groups (gender, age band, region): the 4/5 rule.

Selection rate of a group, precisely: among the group's ranking queries (one user's candidates of one item
type on one as-of date) in which the user went on to engage with at least one candidate (grade > 0), the
share where the ranker put such an engaged-with item in its top k. It is the rate at which the group
receives a relevant recommendation when there is one to give, i.e. an equal-opportunity (true positive
rate) view. Conditioning on "there was a relevant item" keeps differences in how active a group is (base
rates the model did not cause) out of the ratio, so the rule measures the ranking, not the audience.

Rule: for each attribute, lowest / highest group selection rate ≥ 0.8 (the four-fifths rule). Groups with
fewer than `min_group_queries` judged queries are reported but left out of the ratio: their rate is noise.
NDCG@10 by group is reported alongside. The attributes are read from `marts_build.dim_users` and are never
model features.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import psycopg

from ml.io import read_frame, table_columns

PROTECTED_ATTRIBUTES = ("gender", "age_band", "region")


@dataclass
class BiasReport:
    """Per attribute: the group table, the min/max selection-rate ratio, and whether the rule holds."""

    k: int
    threshold: float
    table: pd.DataFrame  # attribute, group, queries, selection_rate, ndcg10, in_ratio
    ratios: dict[str, float]
    passed: bool
    reasons: list[str] = field(default_factory=list)

    def to_metadata(self) -> dict:
        return {
            "k": self.k,
            "threshold": self.threshold,
            "ratios": {a: round(r, 4) for a, r in self.ratios.items()},
            "passed": self.passed,
            "reasons": list(self.reasons),
        }


def bias_report(
    per_query: pd.DataFrame,
    groups: pd.DataFrame,
    k: int = 10,
    threshold: float = 0.8,
    min_group_queries: int = 20,
    attributes: tuple[str, ...] = PROTECTED_ATTRIBUTES,
) -> BiasReport:
    """Apply the four-fifths rule to per-query results (`ml.evaluation.per_query_metrics(hit_k=k)`).

    `groups`: one row per user_key with the protected attributes; users missing there fall in "unknown".
    """
    judged = per_query[per_query["n_rel"] > 0]
    merged = judged.merge(groups.drop_duplicates("user_key"), on="user_key", how="left")
    rows, ratios, reasons = [], {}, []
    for attribute in attributes:
        if attribute not in merged.columns:
            reasons.append(f"{attribute}: not available in dim_users, rule not evaluated")
            continue
        by = merged.assign(_g=merged[attribute].fillna("unknown").astype(str)).groupby("_g")
        table = pd.DataFrame(
            {"queries": by.size(), "selection_rate": by["hit"].mean(), "ndcg10": by["ndcg10"].mean()}
        ).reset_index(names="group")
        table.insert(0, "attribute", attribute)
        table["in_ratio"] = (table["queries"] >= min_group_queries) & (table["group"] != "unknown")
        rows.append(table)
        rated = table[table["in_ratio"]]
        if len(rated) < 2:
            continue
        high = rated["selection_rate"].max()
        ratio = float(rated["selection_rate"].min() / high) if high > 0 else 1.0
        ratios[attribute] = ratio
        if ratio < threshold:
            low = rated.loc[rated["selection_rate"].idxmin()]
            top = rated.loc[rated["selection_rate"].idxmax()]
            reasons.append(
                f"{attribute}: selection rate@{k} ratio {ratio:.3f} < {threshold} "
                f"({low['group']} {low['selection_rate']:.3f} vs {top['group']} {top['selection_rate']:.3f})"
            )
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    passed = all(r >= threshold for r in ratios.values()) and bool(ratios)
    if not ratios:
        reasons.append("no attribute had two groups large enough to compare: fairness not shown")
    return BiasReport(k, threshold, table, ratios, passed, reasons)


def selection_rate_ratio(hits: np.ndarray, group: np.ndarray) -> float:
    """Lowest / highest group mean of `hits` (0/1 per judged query): the quantity the rule bounds."""
    rates = pd.Series(hits).groupby(pd.Series(group)).mean()
    return float(rates.min() / rates.max()) if rates.max() > 0 else 1.0


# ---------------------------------------------------------------------------------------------- SQL I/O


def load_groups(conn: psycopg.Connection) -> pd.DataFrame | None:
    """Protected attributes per user from marts_build.dim_users (None when the mart is not built yet)."""
    columns = table_columns(conn, "marts_build.dim_users")
    if "user_key" not in columns:
        return None
    picks = ["user_key"] + [a for a in PROTECTED_ATTRIBUTES if a in columns]
    return read_frame(conn, f"select {', '.join(picks)} from marts_build.dim_users", dtype=str)
