"""Ranking quality on the time split: NDCG@10, MAP@10, recall@50, against baselines and the oracle.

All metrics are per query (one user's candidates of one item type on one as-of date) and averaged over the
queries that have at least one relevant candidate (grade > 0): a user who did nothing after the as-of date
tells us nothing about the order we showed.

- NDCG@10 uses graded gains 2^grade - 1 (an apply counts more than a view).
- MAP@10: relevance = grade > 0; AP@10 = sum over relevant positions i ≤ 10 of precision@i, / min(10, #rel).
- recall@50: share of the query's relevant candidates placed in the top 50 (relative to the candidate set:
  retrieval misses are a retrieval metric, not a ranking one).

Baselines: `popularity` ranks by the item's 7-day interactions, `skill_overlap` by the retrieval score.
The oracle ranks by the generator's latent utility: an upper reference, read by evaluation only.

With the oracle, every ranker also gets utility-NDCG@10: the same NDCG with the latent utility as a
linear gain, shifted per query so its least useful candidate gains 0. The oracle scores 1.0 by
construction, so a model's figure is the share of the true preference order it recovers, free of the
noise in which candidates a user happened to act on. It averages over every query whose candidates'
utilities are not all equal (a user's preferences exist whether or not they acted this week).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ml.features import QUERY_KEYS


def per_query_metrics(
    frame: pd.DataFrame, score: np.ndarray | pd.Series, label: str = "grade", hit_k: int = 10
) -> pd.DataFrame:
    """One row per query: ndcg10, ap10, recall50, hit (a relevant item in the top `hit_k`), exposure, n_rel.

    `exposure`: the position-weighted attention (1 / log2(1 + rank)) the query's relevant items get in the
    top `hit_k`, as a share of the best possible (all of them on top): `monitoring.bias` rules on it, and
    reads it from training's per-query artifact instead of scoring the validation sample again.
    """
    qid = frame.groupby(QUERY_KEYS, sort=True).ngroup().to_numpy()
    grade = frame[label].to_numpy(dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    item = frame["item_id"].astype(str).to_numpy()
    # Model order: by query, score descending, item id ascending on ties (reproducible).
    item_rank = pd.Index(item).factorize(sort=True)[0]
    order = np.lexsort((item_rank, -s, qid))
    pos = _positions(qid[order])
    g = grade[order]
    q = qid[order]
    n_q = int(qid.max()) + 1 if len(qid) else 0
    rel = (g > 0).astype(np.float64)
    disc = 1.0 / np.log2(pos + 2.0)
    top10 = pos < 10
    dcg = np.bincount(q, weights=(2.0**g - 1.0) * disc * top10, minlength=n_q)
    # Ideal order: grade descending within the query.
    iorder = np.lexsort((-grade, qid))
    ipos = _positions(qid[iorder])
    ig = grade[iorder]
    idcg = np.bincount(
        qid[iorder], weights=(2.0**ig - 1.0) / np.log2(ipos + 2.0) * (ipos < 10), minlength=n_q
    )
    n_rel = np.bincount(q, weights=rel, minlength=n_q)
    cum_rel = _grouped_cumsum(rel, q)
    ap = np.bincount(q, weights=rel * cum_rel / (pos + 1.0) * top10, minlength=n_q)
    rec = np.bincount(q, weights=rel * (pos < 50), minlength=n_q)
    hits = np.bincount(q, weights=rel * (pos < hit_k), minlength=n_q)
    exposed = np.bincount(q, weights=rel * disc * (pos < hit_k), minlength=n_q)
    # Best possible: the query's relevant items in the first min(n_rel, hit_k) places.
    ideal_disc = np.r_[0.0, np.cumsum(1.0 / np.log2(np.arange(hit_k) + 2.0))]
    best_exposure = ideal_disc[np.minimum(n_rel, hit_k).astype(int)]
    keys = frame.assign(_q=qid).drop_duplicates("_q").sort_values("_q")[QUERY_KEYS].reset_index(drop=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = keys.assign(
            ndcg10=np.where(idcg > 0, dcg / idcg, np.nan),
            ap10=np.where(n_rel > 0, ap / np.minimum(10.0, n_rel), np.nan),
            recall50=np.where(n_rel > 0, rec / n_rel, np.nan),
            hit=np.where(n_rel > 0, (hits > 0).astype(float), np.nan),
            exposure=np.where(n_rel > 0, exposed / best_exposure, np.nan),
            n_rel=n_rel.astype(int),
        )
    return out


def utility_ndcg(
    frame: pd.DataFrame, score: np.ndarray | pd.Series, utility: np.ndarray, k: int = 10
) -> float:
    """Mean NDCG@k of `score`'s order with the latent `utility` (shifted per query to >= 0) as gain."""
    qid = frame.groupby(QUERY_KEYS, sort=True).ngroup().to_numpy()
    if not len(qid):
        return float("nan")
    n_q = int(qid.max()) + 1
    u = np.asarray(utility, dtype=np.float64)
    floor = np.full(n_q, np.inf)
    np.minimum.at(floor, qid, u)
    gain = u - floor[qid]
    s = np.asarray(score, dtype=np.float64)
    item_rank = pd.Index(frame["item_id"].astype(str).to_numpy()).factorize(sort=True)[0]
    order = np.lexsort((item_rank, -s, qid))  # ties by item id, as per_query_metrics
    pos = _positions(qid[order])
    dcg = np.bincount(qid[order], weights=gain[order] / np.log2(pos + 2.0) * (pos < k), minlength=n_q)
    iorder = np.lexsort((-gain, qid))
    ipos = _positions(qid[iorder])
    idcg = np.bincount(qid[iorder], weights=gain[iorder] / np.log2(ipos + 2.0) * (ipos < k), minlength=n_q)
    judged = idcg > 0
    return float((dcg[judged] / idcg[judged]).mean()) if judged.any() else float("nan")


def summarize(per_query: pd.DataFrame) -> dict[str, float]:
    """Mean metrics over queries with at least one relevant candidate."""
    judged = per_query[per_query["n_rel"] > 0]
    return {
        "ndcg10": float(judged["ndcg10"].mean()) if len(judged) else float("nan"),
        "map10": float(judged["ap10"].mean()) if len(judged) else float("nan"),
        "recall50": float(judged["recall50"].mean()) if len(judged) else float("nan"),
        "queries": len(judged),
    }


def ranking_metrics(frame: pd.DataFrame, score, label: str = "grade") -> dict[str, float]:
    """NDCG@10, MAP@10, recall@50 and the number of judged queries for one scoring of `frame`."""
    return summarize(per_query_metrics(frame, score, label))


def baseline_scores(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """The rankings a model has to beat: item popularity and the retrieval (skill overlap) score."""
    retrieval = pd.to_numeric(frame["retrieval_score"], errors="coerce").fillna(0).to_numpy(dtype=float)
    popularity = pd.to_numeric(frame["item_popularity_7d"], errors="coerce").fillna(0).to_numpy(dtype=float)
    # Popularity ties (many items with 0 interactions) fall back to retrieval order, as a product would.
    scale = 1e-6 / (np.abs(retrieval).max() + 1.0)
    return {"popularity": popularity + scale * retrieval, "skill_overlap": retrieval}


def compare(
    frame: pd.DataFrame, model_score, oracle_utility: np.ndarray | None = None, label: str = "grade"
) -> pd.DataFrame:
    """One row per ranker (model, baselines, oracle when given) with its metrics: the evaluation table."""
    rows = {"model": ranking_metrics(frame, model_score, label)}
    for name, s in baseline_scores(frame).items():
        rows[name] = ranking_metrics(frame, s, label)
    if oracle_utility is not None:
        rows["oracle"] = ranking_metrics(frame, oracle_utility, label)
        scores = {"model": model_score, **baseline_scores(frame), "oracle": oracle_utility}
        for name, s in scores.items():
            rows[name]["utility_ndcg10"] = utility_ndcg(frame, s, oracle_utility)
    return pd.DataFrame.from_dict(rows, orient="index")


def oracle_utility(oracle_dir: str | Path, frame: pd.DataFrame, pii_key: str | None = None) -> np.ndarray:
    """Latent utility of each pair from the generator's oracle (evaluation only: never train or score on it).

    Reads `generator.oracle.true_utility(oracle_dir, user_ids, item_type, item_ids)` per item type. The
    warehouse only knows pseudonymized user keys, so the generator's user ids are pseudonymized with the
    platform key `pii_key` (the one ingestion used) and matched; pairs of unknown users get NaN. A
    directory holding `utility.parquet` (user_key, item_type, item_id, utility; written by ml.synthetic)
    is read directly.
    """
    oracle_dir = Path(oracle_dir)
    table = oracle_dir / "utility.parquet"
    frame = frame.reset_index(drop=True)
    if table.exists():
        utility = pd.read_parquet(table)
        merged = frame[["user_key", "item_type", "item_id"]].merge(
            utility, on=["user_key", "item_type", "item_id"], how="left"
        )
        return merged["utility"].to_numpy(dtype=float)
    # Imported here: the generator's latent world exists on demo and benchmark machines only, and only
    # this evaluation-only path reads it.
    from generator.oracle import true_utility

    ids = generator_user_ids(oracle_dir, frame["user_key"], pii_key)
    out = np.full(len(frame), np.nan)
    known = ids.notna()
    for item_type, part in frame[known].groupby("item_type"):
        values = true_utility(oracle_dir, ids[part.index].tolist(), item_type, part["item_id"].tolist())
        out[part.index.to_numpy()] = np.asarray(values, dtype=float)
    return out


def generator_user_ids(oracle_dir: Path, user_keys: pd.Series, pii_key: str | None) -> pd.Series:
    """Generator user ids (u0000123) behind warehouse user keys; keys that already are ids pass through."""
    keys = user_keys.astype(str)
    if keys.str.fullmatch(r"u\d{7}").all():
        return keys
    if pii_key is None:
        raise ValueError(
            f"the oracle in {oracle_dir} knows generator user ids, the warehouse pseudonyms: "
            "pass the pseudonymization key (pii_key) to match them"
        )
    # Evaluation-only, like the oracle above; importing ingestion costs ~0.3 s (fsspec, yaml, its loader).
    from generator.oracle import load_world
    from ingestion.pii import pseudonym

    world = load_world(oracle_dir)
    lookup = {pseudonym(f"u{i:07d}", pii_key): f"u{i:07d}" for i in range(len(world.u_occ))}
    return keys.map(lookup)


def _positions(sorted_groups: np.ndarray) -> np.ndarray:
    """0-based position of each row within its (contiguous) group."""
    n = len(sorted_groups)
    if n == 0:
        return np.array([], dtype=np.float64)
    first = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    sizes = np.diff(np.r_[first, n])
    return (np.arange(n) - np.repeat(first, sizes)).astype(np.float64)


def _grouped_cumsum(values: np.ndarray, sorted_groups: np.ndarray) -> np.ndarray:
    total = np.cumsum(values)
    first = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    sizes = np.diff(np.r_[first, len(values)])
    offset = np.repeat(np.r_[0.0, total][first], sizes)
    return total - offset
