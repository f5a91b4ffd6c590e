"""Retrieval math in sparse matrices: who gets which items tonight, computed without one SQL statement.

Jobs: the user's skill weights times the job's O*NET skill importance, summed over shared skills
(a sparse users × skills by skills × jobs product), kept only where the job is reachable (same region or
remote) and at a sensible level (not far above or below the user's). Modules: the user's skill-gap weights
summed over the skills a module teaches, i.e. how much of the user's gap the module covers.

Why sparse and chunked: a dense 100k users × 20k jobs score matrix is 16 GB and took about 211 s here; the
sparse product in row chunks with a top-k over each row's non-zeros took 5.4 s and 0.4 GB
(../shared/stack-notes.md). Nothing here ever materialises a dense users × items array. Pure: frames and
matrices in, frames out; `ml.candidates` reads the inputs and writes the results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ml.config import CandidateConfig

PAIR_SKILL_COLUMNS = ["skill_overlap_count", "skill_overlap_weighted", "gap_coverage"]


# (user rows, item columns) -> boolean mask of pairs that may be recommended.
PairFilter = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Indexed:
    """A sparse matrix with the labels of its rows and columns."""

    matrix: sp.csr_matrix
    rows: pd.Index
    cols: pd.Index


def to_sparse(
    frame: pd.DataFrame,
    row: str,
    col: str,
    value: str | None,
    rows: pd.Index | None = None,
    cols: pd.Index | None = None,
) -> Indexed:
    """Pivot long (row, col, value) rows into a CSR matrix; duplicates are summed, unknown labels dropped."""
    rows = pd.Index(sorted(frame[row].dropna().unique())) if rows is None else rows
    cols = pd.Index(sorted(frame[col].dropna().unique())) if cols is None else cols
    r = rows.get_indexer(frame[row])
    c = cols.get_indexer(frame[col])
    ok = (r >= 0) & (c >= 0)
    values = np.ones(len(frame)) if value is None else frame[value].to_numpy(dtype=np.float64)
    ok &= np.isfinite(values)
    matrix = sp.csr_matrix((values[ok], (r[ok], c[ok])), shape=(len(rows), len(cols)), dtype=np.float64)
    matrix.sum_duplicates()
    return Indexed(matrix, rows, cols)


def top_k_per_row(scores: sp.csr_matrix, k: int, pair_filter: PairFilter | None = None, row_offset: int = 0):
    """Top `k` positive entries of every row of a sparse score matrix.

    Returns (rows, cols, values, ranks) arrays; rank 1 is the best. Ties are broken by column index so the
    result is reproducible. Only the row's non-zeros are looked at (sorting densified rows spent 94% of the
    time on zeros in the stack-notes measurement), and only the few entries at or above each row's k-th
    best value are sorted: a linear-time partition finds that threshold first.
    """
    scores = scores.tocsr()
    counts = np.diff(scores.indptr)
    rows = np.repeat(np.arange(scores.shape[0], dtype=np.int64), counts)
    vals = scores.data
    keep = vals > 0
    if pair_filter is not None:
        keep &= pair_filter(rows + row_offset, scores.indices)
    kept = np.bincount(rows[keep], minlength=scores.shape[0])
    if kept.max(initial=0) > k:
        keep &= vals >= _row_thresholds(scores, rows, keep, counts, k)[rows]
    rows, cols, vals = rows[keep], scores.indices[keep].astype(np.int64), vals[keep]
    if len(vals) == 0:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=np.float64), empty
    order = np.lexsort((cols, -vals, rows))  # small now: at most k entries per row plus boundary ties
    rows, cols, vals = rows[order], cols[order], vals[order]
    first = np.r_[0, np.flatnonzero(np.diff(rows)) + 1]
    sizes = np.diff(np.r_[first, len(rows)])
    ranks = np.arange(len(rows)) - np.repeat(first, sizes) + 1
    top = ranks <= k
    # int32 indices: half the memory of the concatenated result at 100k users × 100 candidates.
    return (
        (rows[top] + row_offset).astype(np.int32),
        cols[top].astype(np.int32),
        vals[top],
        ranks[top].astype(np.int32),
    )


def _row_thresholds(scores: sp.csr_matrix, rows: np.ndarray, keep: np.ndarray, counts: np.ndarray, k: int):
    """The k-th largest kept value of every row (-inf where a row keeps k or fewer entries).

    Rows are laid into a padded block (rows × longest row) in slices of at most ~4M cells, so memory stays
    bounded, and `np.partition` finds the k-th value per row in linear time.
    """
    n_rows = scores.shape[0]
    thresholds = np.full(n_rows, -np.inf)
    pos = np.arange(len(rows)) - scores.indptr[rows]
    values = np.where(keep, scores.data, -np.inf)
    max_cells = 4_000_000
    start = 0
    while start < n_rows:
        width = 1
        stop = start
        # Grow the slice while rows × widest row stays under the cell budget.
        while stop < n_rows and max(width, counts[stop]) * (stop - start + 1) <= max_cells:
            width = max(width, counts[stop])
            stop += 1
        stop = max(stop, start + 1)
        width = max(width, counts[start])
        lo, hi = scores.indptr[start], scores.indptr[stop]
        if width > k:
            block = np.full((stop - start, width), -np.inf)
            block[rows[lo:hi] - start, pos[lo:hi]] = values[lo:hi]
            thresholds[start:stop] = -np.partition(-block, k - 1, axis=1)[:, k - 1]
        start = stop
    return thresholds


def chunked_top_k(
    left: sp.csr_matrix,
    right_t: sp.csr_matrix,
    k: int,
    chunk_rows: int = 4096,
    pair_filter: PairFilter | None = None,
):
    """Top `k` columns of `left @ right_t.T` per row, computed in row chunks (never the full product)."""
    right = right_t.T.tocsr()  # skills × items; CSR once here (scipy would convert a CSC per chunk)
    parts = []
    for start in range(0, left.shape[0], chunk_rows):
        product = (left[start : start + chunk_rows] @ right).tocsr()
        parts.append(top_k_per_row(product, k, pair_filter, row_offset=start))
    if not parts:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=np.float64), empty
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))


def level_and_location_filter(
    user_level: np.ndarray | None,
    item_level: np.ndarray | None,
    user_region: np.ndarray | None,
    item_region: np.ndarray | None,
    config: CandidateConfig,
) -> PairFilter | None:
    """Build the reachability rule for user/job pairs from per-row level and region codes.

    Levels are floats with NaN for unknown; regions are integer codes with -1 for unknown (user) or remote
    (job). Unknowns pass: missing data must not hide jobs.
    """
    checks = []
    if user_level is not None and item_level is not None:

        def level_ok(u, j):
            diff = item_level[j] - user_level[u]
            unknown = np.isnan(diff)
            return unknown | ((diff <= config.max_level_above) & (diff >= -config.max_level_below))

        checks.append(level_ok)
    if config.location_filter and user_region is not None and item_region is not None:

        def region_ok(u, j):
            ur, jr = user_region[u], item_region[j]
            return (ur < 0) | (jr < 0) | (ur == jr)

        checks.append(region_ok)
    if not checks:
        return None

    def combined(u, j):
        mask = checks[0](u, j)
        for check in checks[1:]:
            mask &= check(u, j)
        return mask

    return combined


def candidates_frame(
    as_of: date, item_type: str, users: pd.Index, items: pd.Index, result: tuple
) -> pd.DataFrame:
    """Turn (rows, cols, values, ranks) index arrays into `ml.candidates` rows."""
    rows, cols, vals, ranks = result
    return pd.DataFrame(
        {
            "as_of_date": as_of,
            "user_key": users.to_numpy()[rows],
            "item_type": item_type,
            "item_id": items.to_numpy()[cols],
            "retrieval_score": vals,
            "retrieval_rank": ranks.astype(np.int32),
        }
    )


def job_candidates(
    user_skills: pd.DataFrame,
    job_skills: pd.DataFrame,
    as_of: date,
    config: CandidateConfig,
    user_attrs: pd.DataFrame | None = None,
    job_attrs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Top jobs per user by importance-weighted skill overlap, within the level/location rule.

    user_skills: (user_key, skill_id, weight); job_skills: (job_id, skill_id, importance);
    user_attrs: index user_key, optional columns `level`, `region`; job_attrs likewise, index job_id.
    """
    skills = pd.Index(sorted(set(user_skills["skill_id"]) | set(job_skills["skill_id"])))
    users = to_sparse(user_skills, "user_key", "skill_id", "weight", cols=skills)
    jobs = to_sparse(job_skills, "job_id", "skill_id", "importance", cols=skills)
    ulevel, jlevel, region_filter = _rules_from_attrs(users.rows, jobs.rows, user_attrs, job_attrs, config)
    if ulevel is None or jlevel is None:
        result = chunked_top_k(
            users.matrix, jobs.matrix, config.jobs_per_user, config.chunk_rows, region_filter
        )
    else:
        result = level_grouped_top_k(users.matrix, jobs.matrix, ulevel, jlevel, config, region_filter)
    return candidates_frame(as_of, "job", users.rows, jobs.rows, result)


def level_grouped_top_k(
    users: sp.csr_matrix,
    jobs: sp.csr_matrix,
    ulevel: np.ndarray,
    jlevel: np.ndarray,
    config: CandidateConfig,
    pair_filter: PairFilter | None = None,
):
    """The level rule applied by structure, not per pair: users of one level × the jobs allowed for it.

    Checking the rule on every non-zero of the product cost ~25% of the search; slicing the job matrix per
    user level skips the disallowed pairs before they are multiplied. Unknown levels pass the rule.
    """
    parts = []
    known = ~np.isnan(ulevel)
    groups = [(lvl, np.flatnonzero(ulevel == lvl)) for lvl in np.unique(ulevel[known])]
    groups.append((np.nan, np.flatnonzero(~known)))
    for lvl, urows in groups:
        if len(urows) == 0:
            continue
        diff = jlevel - lvl
        allowed = np.isnan(diff) | ((diff <= config.max_level_above) & (diff >= -config.max_level_below))
        jcols = np.arange(len(jlevel)) if np.isnan(lvl) else np.flatnonzero(allowed)
        if len(jcols) == 0:
            continue
        sub_filter = None
        if pair_filter is not None:

            def sub_filter(u, j, _urows=urows, _jcols=jcols):
                return pair_filter(_urows[u], _jcols[j])

        rows, cols, vals, ranks = chunked_top_k(
            users[urows], jobs[jcols], config.jobs_per_user, config.chunk_rows, sub_filter
        )
        parts.append((urows[rows].astype(np.int32), jcols[cols].astype(np.int32), vals, ranks))
    if not parts:
        empty = np.array([], dtype=np.int64)
        return empty, empty, np.array([], dtype=np.float64), empty
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))


def module_candidates(
    user_gaps: pd.DataFrame, module_skills: pd.DataFrame, as_of: date, config: CandidateConfig
) -> pd.DataFrame:
    """Top modules per user by how much of the user's skill gap they cover.

    user_gaps: (user_key, skill_id, gap_weight), one row per user and skill (the largest gap over target
    occupations); module_skills: (module_id, skill_id).
    """
    skills = pd.Index(sorted(set(user_gaps["skill_id"]) | set(module_skills["skill_id"])))
    gaps = to_sparse(user_gaps, "user_key", "skill_id", "gap_weight", cols=skills)
    modules = to_sparse(module_skills, "module_id", "skill_id", None, cols=skills)
    result = chunked_top_k(gaps.matrix, modules.matrix, config.modules_per_user, config.chunk_rows)
    return candidates_frame(as_of, "module", gaps.rows, modules.rows, result)


def _rules_from_attrs(users, jobs, user_attrs, job_attrs, config):
    """(user levels, job levels, region filter) aligned with the matrices; None where unknown."""
    if user_attrs is None or job_attrs is None:
        return None, None, None
    u = user_attrs.reindex(users)
    j = job_attrs.reindex(jobs)
    ulevel = u["level"].to_numpy(dtype=np.float64) if "level" in u else None
    jlevel = j["level"].to_numpy(dtype=np.float64) if "level" in j else None
    uregion = jregion = None
    if "region" in u and "region" in j:
        codes = pd.Index(sorted(set(u["region"].dropna()) | set(j["region"].dropna())))
        uregion = codes.get_indexer(u["region"])
        jregion = codes.get_indexer(j["region"])
    return ulevel, jlevel, level_and_location_filter(None, None, uregion, jregion, config)


def brute_force_candidates(
    user_skills: pd.DataFrame,
    job_skills: pd.DataFrame,
    k: int,
    allowed: Callable[[str, str], bool] | None = None,
) -> pd.DataFrame:
    """Reference implementation in plain Python (tests and the benchmark's small slice only)."""
    uw: dict[str, dict[str, float]] = {}
    for u, s, w in user_skills[["user_key", "skill_id", "weight"]].itertuples(index=False):
        uw.setdefault(u, {})[s] = uw.get(u, {}).get(s, 0.0) + w
    jw: dict[str, dict[str, float]] = {}
    for j, s, w in job_skills[["job_id", "skill_id", "importance"]].itertuples(index=False):
        jw.setdefault(j, {})[s] = jw.get(j, {}).get(s, 0.0) + w
    out = []
    for u in sorted(uw):
        scored = []
        for j in sorted(jw):
            score = sum(w * jw[j].get(s, 0.0) for s, w in uw[u].items())
            if score > 0 and (allowed is None or allowed(u, j)):
                scored.append((-score, j))
        scored.sort()
        out += [(u, j, -neg, rank + 1) for rank, (neg, j) in enumerate(scored[:k])]
    return pd.DataFrame(out, columns=["user_key", "item_id", "retrieval_score", "retrieval_rank"])


def _gather(indexed: Indexed, labels: pd.Series) -> sp.csr_matrix:
    """Rows of `indexed` for each label, an all-zero row where the label is unknown."""
    matrix = sp.vstack([indexed.matrix, sp.csr_matrix((1, indexed.matrix.shape[1]))], format="csr")
    pos = indexed.rows.get_indexer(labels)
    pos[pos < 0] = matrix.shape[0] - 1
    return matrix[pos]


def pair_skill_features(
    pairs: pd.DataFrame,
    user_skills: pd.DataFrame,
    gaps: pd.DataFrame,
    item_skills: pd.DataFrame,
    item_key: str,
    importance: str | None,
    chunk_rows: int = 500_000,
) -> pd.DataFrame:
    """The skill match of each candidate (user_key, item_id) pair, from the same sparse vectors as retrieval.

    - skill_overlap_count: skills the user has that the item asks for;
    - skill_overlap_weighted: sum of user skill weight x the item's O*NET importance over those skills;
    - gap_coverage: share of the user's total skill-gap weight that the item's skills cover.

    Computed here, on the candidate pairs only (row-gathered sparse vectors, in chunks), because the same
    join in SQL expands every pair by every item skill: ~2.3M rows per as-of date at tier S, 20-30 s.
    """
    out = pd.DataFrame(index=pairs.index, columns=PAIR_SKILL_COLUMNS, dtype=float)
    if pairs.empty:
        return out.astype({"skill_overlap_count": "int64"})
    skills = pd.Index(
        sorted(set(user_skills["skill_id"]) | set(gaps["skill_id"]) | set(item_skills["skill_id"]))
    )
    users = to_sparse(user_skills, "user_key", "skill_id", "weight", cols=skills)
    user_gaps = to_sparse(gaps, "user_key", "skill_id", "gap_weight", cols=skills)
    items = to_sparse(item_skills, item_key, "skill_id", importance, cols=skills)
    gap_totals = np.asarray(user_gaps.matrix.sum(axis=1)).ravel()
    counts, weighted, coverage = [], [], []
    for start in range(0, len(pairs), chunk_rows):
        part = pairs.iloc[start : start + chunk_rows]
        u = _gather(users, part["user_key"])
        g = _gather(user_gaps, part["user_key"])
        i = _gather(items, part["item_id"])
        present = i.sign()
        counts.append(np.asarray(u.sign().multiply(present).sum(axis=1)).ravel())
        weighted.append(np.asarray(u.multiply(i).sum(axis=1)).ravel())
        covered = np.asarray(g.multiply(present).sum(axis=1)).ravel()
        totals = np.append(gap_totals, 0.0)[_positions(user_gaps.rows, part["user_key"])]
        coverage.append(np.divide(covered, totals, out=np.zeros_like(covered), where=totals > 0))
    out["skill_overlap_count"] = np.concatenate(counts).astype(np.int64)
    out["skill_overlap_weighted"] = np.concatenate(weighted)
    out["gap_coverage"] = np.concatenate(coverage)
    return out


def _positions(rows: pd.Index, labels: pd.Series) -> np.ndarray:
    pos = rows.get_indexer(labels)
    pos[pos < 0] = len(rows)
    return pos
