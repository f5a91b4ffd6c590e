"""The offline planner: deterministic, grounded by construction, fast. The default provider and the last
link of every fallback chain.

Grounded by construction: it only cites ids from the user's planning context (tonight's recommended
jobs, the catalogue's modules teaching their gaps) with the catalogue's own titles.

How it chooses modules (a weighted set cover under an hours budget): repeatedly take the module that closes
the most still-open gap weight per hour, skipping modules that no longer fit in `weekly_hours x
horizon_weeks`. A module the user has started gets a bonus (finishing beats starting, at comparable value)
and so does a recommended one (the ranker saw the user's behaviour), but neither jumps the queue: taking
every started module first, whatever little it closed, spent a quarter of the hours on them and cost 0.04x
of the oracle's true gap closed on generator data (docs/architecture.md, "Plan quality"). The chosen
modules are then ordered by level (beginner before intermediate before advanced, which is the prerequisite
rule the guardrails check) and scheduled week by week within the weekly hours.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

from plans.inputs import PlanningContext
from plans.schema import LEVEL_RANK, FollowUpDraft, GapItem, Milestone, ModuleStep, PlanDraft, TargetRole


@dataclass(frozen=True)
class PlannerConfig:
    """The constraints every plan of the night is built under (the same for every provider)."""

    weekly_hours: float = 5.0
    horizon_weeks: int = 8
    max_roles: int = 3
    max_gaps: int = 8
    recommended_bonus: float = 0.15  # share of a module's gain added when the ranker recommends it
    in_progress_bonus: float = 0.25  # share of a module's gain added when the user has started it
    check_in_after_days: int = 10  # no progress for this many days: a check-in is due

    @property
    def hours_budget(self) -> float:
        return self.weekly_hours * self.horizon_weeks


def schedule(modules: list, weekly_hours: float) -> list[int]:
    """Start week (1-based) of each module taken in order, filling `weekly_hours` per week.

    A module starts in the week where the hours before it end; a module longer than a week spans several.
    """
    weeks, used = [], 0.0
    for m in modules:
        weeks.append(int(used // weekly_hours) + 1)
        used += m.hours
    return weeks


def choose_modules(ctx: PlanningContext, config: PlannerConfig) -> list:
    """The modules of the plan, in a valid order (see the module docstring)."""
    gap_weight = {g.skill_id: g.gap_weight for g in ctx.gaps}
    budget = config.hours_budget
    pool = [m for m in ctx.modules if m.hours <= budget and m.module_id not in ctx.completed]
    if all(w >= 0 for w in gap_weight.values()) and all(m.hours > 0 for m in pool):
        chosen = _greedy_lazy(pool, gap_weight, ctx.in_progress, budget, config)
    else:  # a gain that can grow as gaps close (negative weights): the plain scan, exact by definition
        chosen = _greedy_scan(pool, gap_weight, ctx.in_progress, budget, config)
    position = {m.module_id: i for i, m in enumerate(chosen)}
    return sorted(chosen, key=lambda m: (LEVEL_RANK[m.level], position[m.module_id]))


def _gain(m, open_gap: dict[str, float], in_progress: set[str], config: PlannerConfig) -> float:
    """The open gap weight module `m` would close, with its started and recommended bonuses."""
    gain = sum(open_gap.get(s, 0.0) for s in m.skills)
    if gain <= 0:
        return gain
    if m.module_id in in_progress:
        gain *= 1 + config.in_progress_bonus
    if m.recommended_rank is not None:
        gain *= 1 + config.recommended_bonus
    return gain


def _order(m, gain: float) -> tuple[float, float, str]:
    """The greedy's preference, smallest first, one definition for both greedies (they must agree):
    the higher gain per hour, then the shorter module, then the smaller id (deterministic ties)."""
    return (-gain / m.hours, m.hours, m.module_id)


def _greedy_scan(pool: list, gap_weight: dict[str, float], in_progress: set[str], budget: float,
                 config: PlannerConfig) -> list:  # fmt: skip
    """The greedy as defined: every round, rescore every module still in the pool."""
    open_gap = dict(gap_weight)
    chosen, used = [], 0.0
    taken: set[str] = set()
    while True:
        best, best_key = None, None
        for m in pool:
            if m.module_id in taken or used + m.hours > budget:
                continue
            gain = _gain(m, open_gap, in_progress, config)
            if gain <= 0:
                continue
            key = _order(m, gain)
            if best_key is None or key < best_key:
                best, best_key = m, key
        if best is None:
            break
        chosen.append(best)
        taken.add(best.module_id)
        used += best.hours
        for s in best.skills:
            open_gap[s] = 0.0
    return chosen


def _greedy_lazy(pool: list, gap_weight: dict[str, float], in_progress: set[str], budget: float,
                 config: PlannerConfig) -> list:  # fmt: skip
    """The same choices as `_greedy_scan`, rescoring only the module on top of a heap.

    With non-negative gap weights a module's gain only shrinks as gaps close, and the hours used only
    grow, so a key in the heap is a lower bound of the module's current key and a module that no longer
    fits or closes nothing never will again. The top entry, rescored and unchanged, is therefore the
    scan's choice (ties by pool position, as the scan's strict `<`). The scan was 1.1 ms of a 4.7 ms
    plan at 10,000 users (10.9 s of a 47 s night): every round rescored the whole pool of ~67 modules.
    """
    open_gap = dict(gap_weight)
    heap = []
    for i, m in enumerate(pool):
        gain = _gain(m, open_gap, in_progress, config)
        if gain > 0:
            heap.append((_order(m, gain), i))
    heapq.heapify(heap)
    chosen, used = [], 0.0
    taken: set[str] = set()
    while heap:
        key, i = heapq.heappop(heap)
        m = pool[i]
        if m.module_id in taken or used + m.hours > budget:
            continue
        gain = _gain(m, open_gap, in_progress, config)
        if gain <= 0:
            continue
        fresh = _order(m, gain)
        if fresh != key:
            heapq.heappush(heap, (fresh, i))
            continue
        chosen.append(m)
        taken.add(m.module_id)
        used += m.hours
        for s in m.skills:
            open_gap[s] = 0.0
    return chosen


def plan_offline(ctx: PlanningContext, config: PlannerConfig) -> PlanDraft:
    """The offline plan for one user (pure: the same context and config give the same plan)."""
    roles = [TargetRole(job_id=j.job_id, title=j.title) for j in ctx.jobs[: config.max_roles]]
    gaps = [
        GapItem(skill_id=g.skill_id, skill_name=g.skill_name, gap_weight=round(g.gap_weight, 4))
        for g in ctx.gaps[: config.max_gaps]
    ]
    modules = choose_modules(ctx, config)
    weeks = schedule(modules, config.weekly_hours)
    steps = [
        ModuleStep(module_id=m.module_id, title=m.title, week=w, hours=m.hours)
        for m, w in zip(modules, weeks, strict=True)
    ]
    milestones = _milestones(steps, config.weekly_hours)
    follow_ups = []
    if roles and steps:
        last = steps[-1]
        finish_week = min(_finish_week(steps, config.weekly_hours), config.horizon_weeks)
        follow_ups.append(
            FollowUpDraft(
                kind="apply_after_module",
                due_week=finish_week,
                job_id=roles[0].job_id,
                module_id=last.module_id,
                message=f"After finishing {last.title}, apply to {roles[0].title}.",
            )
        )
    follow_ups.append(
        FollowUpDraft(
            kind="check_in",
            due_week=max(1, round(config.check_in_after_days / 7)),
            job_id=None,
            module_id=steps[0].module_id if steps else None,
            message="Check in on progress: no module activity recorded since the plan started.",
        )
    )
    summary = _summary(roles, gaps, steps, config)
    return PlanDraft(
        target_roles=roles,
        skill_gaps=gaps,
        modules=steps,
        milestones=milestones,
        follow_ups=follow_ups,
        summary=summary,
    )


def _finish_week(steps: list[ModuleStep], weekly_hours: float) -> int:
    total = sum(s.hours for s in steps)
    return max(1, int(-(-total // weekly_hours)))


def _milestones(steps: list[ModuleStep], weekly_hours: float) -> list[Milestone]:
    """One milestone per week in which at least one module is finished."""
    by_week: dict[int, list[str]] = {}
    used = 0.0
    for s in steps:
        used += s.hours
        week = max(1, int(-(-used // weekly_hours)))
        by_week.setdefault(week, []).append(s.module_id)
    return [
        Milestone(week=w, module_ids=ids, description=f"Finish {len(ids)} module(s) by the end of week {w}.")
        for w, ids in sorted(by_week.items())
    ]


def _summary(roles, gaps, steps, config: PlannerConfig) -> str:
    if not steps:
        return "No catalogue module closes your current gaps within your weekly hours; keep exploring roles."
    role = roles[0].title if roles else "your target role"
    skills = ", ".join(g.skill_name for g in gaps[:3])
    hours = sum(s.hours for s in steps)
    return (
        f"A {len(steps)}-module plan toward {role}: {hours:g} hours at {config.weekly_hours:g} hours a week,"
        f" starting with {skills}."
    )[:600]
