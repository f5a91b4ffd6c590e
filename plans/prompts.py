"""Prompts: which facts go to a model (within a token budget) and how they are worded.

A prompt carries the user's pseudonym, their skill gaps and catalogue facts (job and module ids with
titles, levels, hours, skills taught) and nothing else: no name, no contact, no free text of the user's.
`plans.privacy.scrub` still runs over the final text (vault values, redactor) before any call.

Context selection: facts are added in order of value to the plan (target roles, then the heaviest gaps,
then the modules closing the most gap weight, recommended ones first on ties) until the next one would
pass the policy's `context_token_budget`, counted at ~4 bytes per token (typical of BPE tokenizers on this
kind of JSON). That is a target for the prompt's size; the cost envelope does not rely on it but on the
strict bound of `router.input_token_bound` (<= 1 token per byte).
"""

from __future__ import annotations

import json

from plans.inputs import PlanningContext
from plans.offline import PlannerConfig
from plans.privacy import scrub

SYSTEM_PLAN = (
    "You write a learning plan for one user of a career-development product. "
    "Use ONLY the job ids, module ids and skill ids given in the facts, "
    "and repeat each one's title exactly as given. "
    "Order modules from beginner to advanced, never exceed the weekly hours over the horizon, "
    "and start each module only when the hours before it fit. Weeks are 1-based. "
    "Follow-ups: apply to a target job after a module, or check in. "
    "Plain, encouraging, factual language; no promises of outcomes."
)
SYSTEM_FOLLOW_UP = (
    "You write one short, friendly follow-up message (at most 280 characters) about a learning-plan action. "
    "Use only the facts given; no promises of outcomes."
)


def _facts_size(facts: dict) -> int:
    return len(json.dumps(facts, ensure_ascii=False).encode())


def select_facts(ctx: PlanningContext, config: PlannerConfig, token_budget: int) -> dict:
    """The facts of a plan prompt, most valuable first, within `token_budget` (bytes as the bound)."""
    facts: dict = {
        "user_key": ctx.user_key,
        "as_of_date": ctx.as_of_date.isoformat(),
        "constraints": {"weekly_hours": config.weekly_hours, "horizon_weeks": config.horizon_weeks},
        "target_roles": [],
        "skill_gaps": [],
        "modules": [],
        "completed_module_ids": sorted(ctx.completed),
        "in_progress_module_ids": sorted(ctx.in_progress),
    }
    weight = {g.skill_id: g.gap_weight for g in ctx.gaps}
    ranked_modules = sorted(
        ctx.modules,
        key=lambda m: (-sum(weight.get(s, 0) for s in m.skills), m.recommended_rank or 999, m.module_id),
    )
    queue = (
        [("target_roles", {"job_id": j.job_id, "title": j.title}) for j in ctx.jobs[: config.max_roles]]
        + [("skill_gaps", {"skill_id": g.skill_id, "skill_name": g.skill_name,
                           "gap_weight": round(g.gap_weight, 3)}) for g in ctx.gaps]
        + [("modules", {"module_id": m.module_id, "title": m.title, "level": m.level, "hours": m.hours,
                        "teaches_gap_skills": list(m.skills)}) for m in ranked_modules]
    )  # fmt: skip
    size = _facts_size(facts)
    for section, item in queue:
        extra = len(json.dumps(item, ensure_ascii=False).encode()) + 2
        if size + extra > token_budget * 4 and section != "target_roles":
            # ~4 bytes per token in the typical tokenizer: the budget is a target, the bound is bytes.
            break
        facts[section].append(item)
        size += extra
    return facts


def plan_messages(
    ctx: PlanningContext, config: PlannerConfig, token_budget: int, vault: set[str]
) -> list[dict]:
    facts = select_facts(ctx, config, token_budget)
    text = json.dumps(facts, ensure_ascii=False, sort_keys=True)
    return [
        {"role": "system", "content": SYSTEM_PLAN},
        {"role": "user", "content": scrub(text, vault)},
    ]


def follow_up_messages(user_key: str, kind: str, facts: dict, vault: set[str]) -> list[dict]:
    text = json.dumps({"user_key": user_key, "kind": kind, **facts}, ensure_ascii=False, sort_keys=True)
    return [
        {"role": "system", "content": SYSTEM_FOLLOW_UP},
        {"role": "user", "content": scrub(text, vault)},
    ]
