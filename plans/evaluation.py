"""Plan quality against the generator's latent truth (evaluation only: the night never reads it).

A plan is worth the share of the user's TRUE gap toward their TRUE target occupation that its modules
close: sum over the skills the planned modules really teach of need(s) = distinctive weight of s for the
target x (1 - the user's true proficiency), divided by the user's whole need (the same quantity
`generator.latent.module_utility` rewards). Three plans are compared under the same constraints (the
user's hours budget, modules not yet completed, the whole catalogue):

- the published plan (offline planner or LLM path);
- a random valid plan: catalogue modules in random order, each taken while it fits the budget;
- the oracle plan: greedy by true marginal need closed per hour (the standard approximation for budgeted
  coverage), built with the truth the planner never sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from generator.world import World


@dataclass
class QualityReport:
    users: int
    planned: float  # mean share of true need closed by the published plans
    random: float
    oracle: float

    @property
    def vs_oracle(self) -> float:
        return round(self.planned / self.oracle, 4) if self.oracle else 0.0

    @property
    def vs_random(self) -> float:
        return round(self.planned / self.random, 4) if self.random else 0.0


@dataclass
class Truth:
    """The latent world and the catalogue a plan is scored in, loaded once (several scorings reuse it)."""

    world: World
    module_ids: list[str]
    module_num: np.ndarray  # latent module number of module_ids[i]
    hours: np.ndarray
    index: dict[str, int]
    done: dict[str, set[int]]  # user id -> catalogue positions of the modules they completed


def load_truth(params, oracle_dir: str | Path) -> Truth:
    """The latent world plus tonight's catalogue and completions (what every compared plan is bound by)."""
    from core.database import connect
    from generator.oracle import load_world, parse_ids

    world = load_world(oracle_dir)
    with connect(params) as conn:
        catalogue = conn.execute(
            "select module_id, duration_hours::float8 from marts_build.dim_learning_modules"
            " where duration_hours > 0 order by 1"
        ).fetchall()
        completed = conn.execute(
            """
            select i.original, p.module_id
            from intermediate.int_learning_progress as p
            inner join pii_vault.identifiers as i on i.pseudonym = p.user_key and i.kind = 'user'
            where p.status = 'completed'
            """
        ).fetchall()
    module_ids = [m for m, _ in catalogue]
    module_num = parse_ids(module_ids, "m", 5, len(world.m_level), "module ids")
    hours = np.array([h for _, h in catalogue], dtype=float)
    index = {m: i for i, m in enumerate(module_ids)}
    done: dict[str, set[int]] = {}
    for user, module in completed:
        if module in index:
            done.setdefault(user, set()).add(index[module])
    return Truth(world, module_ids, module_num, hours, index, done)


def published_plans(params, as_of: date) -> list[tuple[str, list[str], float]]:
    """Tonight's published-to-be plans as (user id, module ids, hours budget), by user id."""
    from core.database import connect

    with connect(params) as conn:
        rows = conn.execute(
            """
            select i.original, p.plan
            from marts_build.user_plans as p
            inner join pii_vault.identifiers as i on i.pseudonym = p.user_key and i.kind = 'user'
            where p.as_of_date = %s
            order by 1
            """,
            (as_of,),
        ).fetchall()
    return [
        (
            user,
            [m["module_id"] for m in plan["modules"]],
            float(plan["weekly_hours"]) * int(plan["horizon_weeks"]),
        )
        for user, plan in rows
    ]


def plan_quality(params, oracle_dir: str | Path, as_of: date, seed: int = 0) -> QualityReport:
    """Score tonight's published-to-be plans (`marts_build.user_plans`) against the latent world."""
    return score_plans(load_truth(params, oracle_dir), published_plans(params, as_of), seed)


def score_plans(truth: Truth, plans: list[tuple[str, list[str], float]], seed: int = 0) -> QualityReport:
    """Mean share of true need closed by `plans` (user id, module ids, hours budget), by random valid plans
    and by the oracle's plans under the same budgets. Plans are scored in the order given (the random
    plans' draws follow it: pass them sorted by user id to compare scorings)."""
    from generator.oracle import parse_ids

    world = truth.world
    dense = world.prof_dense()
    rng = np.random.default_rng(seed)
    planned, randoms, oracles = [], [], []
    for user, module_ids, budget in plans:
        u = int(parse_ids([user], "u", 7, len(world.u_occ), "user ids")[0])
        need = world.occ_w[world.u_target[u]].astype(float) * (1 - dense[u].astype(float) / 255)
        need = np.clip(need, 0, None)
        total = need.sum()
        if total <= 0:
            continue
        allowed = [i for i in range(len(truth.module_ids)) if i not in truth.done.get(user, set())]

        def closed(chosen: list[int], need=need, total=total) -> float:
            skills = {int(s) for i in chosen for s in world.m_skill[truth.module_num[i]] if s >= 0}
            return float(sum(need[s] for s in skills) / total)

        chosen = [truth.index[m] for m in module_ids if m in truth.index]
        planned.append(closed(chosen))
        randoms.append(closed(_random_plan(allowed, truth.hours, budget, rng)))
        oracles.append(
            closed(_oracle_plan(allowed, truth.hours, budget, need, world.m_skill, truth.module_num))
        )
    mean = lambda xs: round(float(np.mean(xs)), 4) if xs else 0.0  # noqa: E731
    return QualityReport(len(planned), mean(planned), mean(randoms), mean(oracles))


def _random_plan(allowed: list[int], hours: np.ndarray, budget: float, rng) -> list[int]:
    chosen, used = [], 0.0
    for i in rng.permutation(allowed):
        if used + hours[i] <= budget:
            chosen.append(int(i))
            used += hours[i]
    return chosen


def _oracle_plan(allowed, hours, budget, need, m_skill, module_num) -> list[int]:
    open_need = need.copy()
    chosen: list[int] = []
    used = 0.0
    pool = set(allowed)
    while True:
        best, best_rate = None, 0.0
        for i in pool:
            if used + hours[i] > budget:
                continue
            skills = [int(s) for s in m_skill[module_num[i]] if s >= 0]
            rate = sum(open_need[s] for s in skills) / hours[i]
            if rate > best_rate:
                best, best_rate = i, rate
        if best is None:
            return chosen
        chosen.append(best)
        used += hours[best]
        pool.discard(best)
        for s in m_skill[module_num[best]]:
            if s >= 0:
                open_need[int(s)] = 0.0
