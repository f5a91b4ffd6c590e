"""One day of behaviour, drawn from the latent utilities.

Each day a share of users is active. An active user looks at jobs from a candidate neighbourhood
(their occupation's postings, their target occupation's, their field's, a few random ones — never all
jobs, so tier M/L stay linear in users) and views some of them, sampled ∝ exp(u/τ) without
replacement (Gumbel top-k). A view turns into a save or an application with a probability rising in
u. Some active users also learn: they start modules that close their skill gaps (same sampling), make
progress and complete them, again more likely the higher the utility. Some open a career tool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from generator.latent import job_utility, module_utility
from generator.tiers import Tier
from generator.world import World

TAU = 0.5  # view-sampling temperature: lower = users stick closer to their best matches
TOOLS = np.array(["interview_coach", "resume_review", "salary_insights", "career_path_explorer"])
EVENT_TYPES = np.array(
    [
        "job_view",
        "job_save",
        "job_apply",
        "module_start",
        "module_progress",
        "module_complete",
        "tool_session",
    ]
)
ITEM_TYPE_OF_EVENT = np.array(["job", "job", "job", "module", "module", "module", "tool"])
EVENT_COLUMNS = [
    "event_id", "user_id", "event_type", "item_type", "item_id", "occurred_at", "duration_s", "progress_pct",
    "session_id",
]  # fmt: skip


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class DayEvents:
    """The day's events as arrays (index-based, before formatting)."""

    user: np.ndarray
    etype: np.ndarray  # index into EVENT_TYPES
    item: np.ndarray  # job / module index, or tool index
    ts: np.ndarray  # seconds since the day's midnight UTC
    duration: np.ndarray  # float, nan = empty
    progress: np.ndarray  # float, nan = empty


@dataclass
class Learning:
    """Open module enrolments (user, module, progress %, utility) and finished (user, module) keys."""

    user: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    module: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    progress: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    util: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    finished: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


def _learning(world: World, rng, active, start, learners, state: Learning) -> list[tuple]:
    """Module events of the day; updates `state`.

    Enrolled learners who are active today continue with a probability rising in utility and advance
    15–45 points (module_progress), completing at 100 (module_complete); some drop out. Today's learners
    also start 1–2 new modules sampled ∝ exp(u/τ) among modules of their target field and random ones,
    so modules that close their skill gaps are started, progressed and completed most.
    """
    n_m = len(world.m_level)
    parts: list[tuple] = []
    # Continue open enrolments of today's active users.
    is_active = np.isin(state.user, active)
    cont = is_active & (rng.random(len(state.user)) < _sigmoid(2.0 * (state.util - 0.3)))
    drop = ~cont & is_active & (rng.random(len(state.user)) < 0.15)
    step = rng.uniform(15, 45, len(state.user)) * (1.0 + 0.3 * np.tanh(state.util))
    new_prog = np.where(cont, np.minimum(state.progress + step, 100.0), state.progress)
    done = cont & (new_prog >= 100.0)
    prog = cont & ~done
    c_ts = start[np.searchsorted(active, state.user[cont])] + rng.uniform(300, 3000, int(cont.sum()))
    c_ts_of = np.full(len(state.user), np.nan)
    c_ts_of[cont] = c_ts
    n_p, n_d = int(prog.sum()), int(done.sum())
    parts += [
        (state.user[prog], np.full(n_p, 4), state.module[prog], c_ts_of[prog],
         np.round(rng.lognormal(6.5, 0.5, n_p)), np.round(new_prog[prog], 1)),
        (state.user[done], np.full(n_d, 5), state.module[done], c_ts_of[done],
         np.round(rng.lognormal(6.8, 0.5, n_d)), np.full(n_d, 100.0)),
    ]  # fmt: skip
    state.finished = np.union1d(state.finished, state.user[done] * n_m + state.module[done])
    keep = ~(done | drop)
    state.user, state.module = state.user[keep], state.module[keep]
    state.progress, state.util = new_prog[keep], state.util[keep]

    if len(learners):
        m_order, m_counts, m_starts = _grouped(world.m_cat, int(world.occ_cat.max()) + 1)
        km = 24
        tcat = world.occ_cat[world.u_target[learners]]
        mc = np.concatenate(
            [
                _pick(rng, m_order, m_counts, m_starts, tcat, n_m, km // 2),
                rng.integers(0, n_m, (len(learners), km // 2)),
            ],
            axis=1,
        )
        mc.sort(axis=1)
        skip = np.zeros(mc.shape, dtype=bool)
        skip[:, 1:] = mc[:, 1:] == mc[:, :-1]
        # Nobody restarts a module they are taking or have finished.
        keys = learners[:, None] * n_m + mc
        skip |= np.isin(keys, np.concatenate([state.finished, state.user * n_m + state.module]))
        mu = module_utility(world, np.repeat(learners, km), mc.ravel()).reshape(mc.shape)
        mu[skip] = -np.inf
        rows, cols = _gumbel_topk(rng, mu, rng.integers(1, 3, size=len(learners)))
        l_user, l_mod, l_u = learners[rows], mc[rows, cols], mu[rows, cols]
        l_ts = start[np.searchsorted(active, l_user)] + rng.uniform(600, 3000, len(rows))
        # Some make a first bit of progress in the same session.
        first = rng.random(len(rows)) < 0.5 * _sigmoid(2.0 * (l_u - 0.3))
        first_pct = np.where(first, np.round(rng.uniform(5, 30, len(rows)), 1), 0.0)
        n_f = int(first.sum())
        parts += [
            (l_user, np.full(len(rows), 3), l_mod, l_ts, np.full(len(rows), np.nan), np.zeros(len(rows))),
            (l_user[first], np.full(n_f, 4), l_mod[first], l_ts[first] + rng.uniform(120, 900, n_f),
             np.round(rng.lognormal(6.0, 0.5, n_f)), first_pct[first]),
        ]  # fmt: skip
        state.user = np.concatenate([state.user, l_user])
        state.module = np.concatenate([state.module, l_mod])
        state.progress = np.concatenate([state.progress, first_pct])
        state.util = np.concatenate([state.util, l_u.astype(np.float32)])
    return parts


def _grouped(keys: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(keys, kind="stable")
    counts = np.bincount(keys, minlength=n_groups)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    return order, counts, starts


def _pick(rng, order, counts, starts, group, n_alive, k) -> np.ndarray:
    """k items per row from each row's group (uniform, with replacement); random item if group empty."""
    c = counts[group][:, None]
    r = rng.random((len(group), k))
    within = starts[group][:, None] + np.floor(r * np.maximum(c, 1)).astype(np.int64)
    fallback = np.floor(r * n_alive).astype(np.int64)
    return np.where(c > 0, order[np.minimum(within, len(order) - 1)], fallback)


def _gumbel_topk(rng, util: np.ndarray, n_take: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of a per-row sample without replacement ∝ exp(util/τ), n_take[i] per row."""
    keys = util / TAU - np.log(-np.log(rng.random(util.shape) + 1e-12) + 1e-12)
    order = np.argsort(-keys, axis=1)
    take = np.arange(util.shape[1])[None, :] < n_take[:, None]
    take &= np.isfinite(np.take_along_axis(util, order, axis=1))
    rows, pos = np.nonzero(take)
    return rows, order[rows, pos]


def simulate_day(
    world: World, tier: Tier, day_index: int, seed: int, learning: Learning | None = None
) -> DayEvents:
    """Events of day `day_index` (0 = first day) for the users and jobs that exist by then.

    `learning` carries module enrolments from one day to the next (pass the same object for every day,
    in order); without it each day starts with nobody enrolled.
    """
    rng = np.random.default_rng([seed, 100, day_index])
    # Arrivals act from the day after they arrive, so no event precedes its user's resume or its job's
    # posting; the initial population (backdated) is there from day one.
    seen = max(day_index - 1, 0)
    n_u = int(np.searchsorted(world.u_day, seen, side="right"))
    n_j = int(np.searchsorted(world.j_day, seen, side="right"))
    active = np.flatnonzero(rng.random(n_u) < tier.active_share)
    start = rng.uniform(6 * 3600, 22 * 3600, size=len(active))  # session start, UTC seconds

    # --- jobs: candidates, views, saves, applications
    n_occ = len(world.occ_soc)
    j_order, j_counts, j_starts = _grouped(world.j_occ[:n_j], n_occ)
    jc = world.occ_cat[world.j_occ[:n_j]]
    c_order, c_counts, c_starts = _grouped(jc, int(world.occ_cat.max()) + 1)
    k = tier.n_candidates
    k_own, k_target, k_cat = int(k * 0.5), int(k * 0.2), int(k * 0.15)
    cand = np.concatenate(
        [
            _pick(rng, j_order, j_counts, j_starts, world.u_occ[active], n_j, k_own),
            _pick(rng, j_order, j_counts, j_starts, world.u_target[active], n_j, k_target),
            _pick(rng, c_order, c_counts, c_starts, world.occ_cat[world.u_occ[active]], n_j, k_cat),
            rng.integers(0, n_j, size=(len(active), k - k_own - k_target - k_cat)),
        ],
        axis=1,
    )
    cand.sort(axis=1)
    dup = np.zeros(cand.shape, dtype=bool)
    dup[:, 1:] = cand[:, 1:] == cand[:, :-1]
    util = job_utility(world, np.repeat(active, k), cand.ravel()).reshape(cand.shape)
    util[dup] = -np.inf
    n_views = np.minimum(1 + rng.poisson(tier.mean_job_views - 1, size=len(active)), k // 2)
    rows, cols = _gumbel_topk(rng, util, n_views)
    v_user = active[rows]
    v_job = cand[rows, cols]
    v_u = util[rows, cols]
    # Views follow each other within the session: ~90 s apart on average.
    step = rng.exponential(90.0, size=len(rows))
    first = np.r_[True, rows[1:] != rows[:-1]]
    csum = np.cumsum(step)
    group_base = np.maximum.accumulate(np.where(first, csum - step, 0))
    v_ts = start[rows] + (csum - group_base)
    v_dur = np.round(rng.lognormal(3.3 + 0.3 * np.tanh(v_u), 0.6))  # dwell time grows with interest
    saved = rng.random(len(rows)) < _sigmoid(2.5 * (v_u - 3.3))
    applied = rng.random(len(rows)) < _sigmoid(2.5 * (v_u - 3.7))

    nan = np.full(len(rows), np.nan)
    parts = [
        (v_user, np.zeros(len(rows), int), v_job, v_ts, v_dur, nan),
        (v_user[saved], np.full(saved.sum(), 1), v_job[saved], v_ts[saved] + rng.uniform(5, 40, saved.sum()),
         nan[saved], nan[saved]),
        (v_user[applied], np.full(applied.sum(), 2), v_job[applied],
         v_ts[applied] + rng.uniform(60, 600, applied.sum()), nan[applied], nan[applied]),
    ]  # fmt: skip

    # --- learning modules: start / progress / complete for gap-closing modules
    learners = active[rng.random(len(active)) < tier.module_share]
    parts += _learning(world, rng, active, start, learners, learning if learning is not None else Learning())

    # --- career tools
    tool_users = active[rng.random(len(active)) < tier.tool_share]
    t_ts = start[np.searchsorted(active, tool_users)] + rng.uniform(0, 1800, len(tool_users))
    parts.append(
        (tool_users, np.full(len(tool_users), 6), rng.integers(0, len(TOOLS), len(tool_users)), t_ts,
         np.round(rng.lognormal(5.5, 0.7, len(tool_users))), np.full(len(tool_users), np.nan))
    )  # fmt: skip

    user, etype, item, ts, dur, prog_pct = (np.concatenate(x) for x in zip(*parts, strict=True))
    ts = np.minimum(ts, 86_399.0)  # a late-night session ends at midnight, not in tomorrow's partition
    order = np.lexsort((etype, user, ts))
    return DayEvents(user[order], etype[order], item[order], ts[order], dur[order], prog_pct[order])


def events_table(ev: DayEvents, day: date) -> pa.Table:
    """Format a day's events into the interaction_events file columns (Arrow: 1M rows in about a second)."""
    n = len(ev.user)
    stamp = day.strftime("%Y%m%d")
    is_job, is_mod = ev.etype <= 2, (ev.etype >= 3) & (ev.etype <= 5)
    item_id = pc.if_else(
        pa.array(is_job),
        ids("j", 6, ev.item),
        pc.if_else(pa.array(is_mod), ids("m", 5, ev.item), pc.take(pa.array(TOOLS), ev.item % len(TOOLS))),
    )
    return pa.table(
        {
            "event_id": ids("e" + stamp, 7, np.arange(n)),
            "user_id": ids("u", 7, ev.user),
            "event_type": pc.take(pa.array(EVENT_TYPES), ev.etype),
            "item_type": pc.take(pa.array(ITEM_TYPE_OF_EVENT), ev.etype),
            "item_id": item_id,
            "occurred_at": iso_times(day, ev.ts),
            "duration_s": pa.array(ev.duration, mask=np.isnan(ev.duration)).cast(pa.int64()),
            "progress_pct": pa.array(np.round(ev.progress, 1), mask=np.isnan(ev.progress)),
            "session_id": ids("s" + stamp, 7, ev.user),
        }
    )


@lru_cache(maxsize=1)
def _clock() -> pa.Array:
    # All 86,400 "THH:MM:SSZ" suffixes: a take() is ~20× faster than strftime on a million timestamps.
    return pa.array([f"T{h:02d}:{m:02d}:{s:02d}Z" for h in range(24) for m in range(60) for s in range(60)])


def iso_times(day: date, seconds: np.ndarray) -> pa.Array:
    """ISO-8601 UTC strings for seconds since `day`'s midnight (0 ≤ s < 86,400)."""
    secs = np.clip(np.asarray(seconds).astype(np.int64), 0, 86_399)
    return pc.binary_join_element_wise(day.isoformat(), pc.take(_clock(), secs), "")


def ids(prefix: str, width: int, idx: np.ndarray) -> pa.Array:
    """Deterministic ids from numbers: ids("u", 7, [123]) → ["u0000123"] (j000045, m00012 likewise)."""
    digits = pc.utf8_lpad(pa.array(np.asarray(idx, dtype=np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")
