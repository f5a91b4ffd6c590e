"""Weekly summaries: once a week, each user with a current plan gets a short note on how far they are.

The note says, against the plan's weekly milestones: the modules done of those due by now, the hours
done of those due, the next step (the plan's first module not yet completed) and the follow-ups due in
the coming week. It is written on one weekday (`NightConfig.weekly_summary_weekday`, Monday by default)
through the same router as plans and follow-up messages (task `weekly_summary`: its policy, ledger,
cache and envelope); the offline answer is a deterministic template of the same facts.

A model's summary is accepted only when every module and job it cites exists in the catalogue with the
title the catalogue gives (id and label together), it cites only the user's own plan, its text passes the
length and tone rules, and it carries none of the user's personal values (`plans.privacy`). Otherwise it
is re-asked once, then replaced by the offline summary with the reason. Stored in
`plans.weekly_summaries`, one row per user and week (an upsert: a re-run of the week replaces it).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta

import psycopg
from pydantic import BaseModel, ConfigDict

from plans.guardrails import check_text, norm
from plans.inputs import Catalogue

MAX_WEEKLY = 400  # characters: a note read on a phone, not a report
SYSTEM_WEEKLY = (
    "You write a short weekly progress note (at most 400 characters) for one user of a learning plan. "
    "Use only the facts given; cite each module or job you mention by its id with its title exactly as "
    "given. Plain, encouraging, factual language; no promises of outcomes."
)


class CitedModule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    module_id: str
    title: str  # repeated; must equal the catalogue's title


class CitedJob(BaseModel):
    model_config = ConfigDict(extra="forbid")
    job_id: str
    title: str  # repeated; must equal the catalogue's title


class WeeklySummary(BaseModel):
    """The structured answer (strict JSON schema): the note and every module and job it mentions."""

    model_config = ConfigDict(extra="forbid")
    summary: str
    modules: list[CitedModule]
    jobs: list[CitedJob]


@dataclass
class WeeklyFacts:
    """Where one user stands against their current plan this week (all from the plan and their events)."""

    user_key: str
    plan_id: int
    week: int  # the plan week that starts tonight (1-based; complete weeks behind it)
    modules_done: list[tuple[str, str]] = field(default_factory=list)  # plan modules completed (id, title)
    modules_due: list[tuple[str, str]] = field(default_factory=list)  # in milestones of weeks behind us
    due_done: int = 0  # of modules_due, how many are completed
    hours_done: float = 0.0
    hours_due: float = 0.0
    next_step: tuple[str, str] | None = None  # first plan module not completed (id, title)
    follow_ups_due: list[dict] = field(default_factory=list)  # open/overdue, due within the coming week
    target_job: tuple[str, str] | None = None  # the plan's first target role (id, title)


def week_start(as_of: date) -> date:
    """The week a summary belongs to: the Monday of `as_of`'s ISO week (the table's key with the user)."""
    return as_of - timedelta(days=as_of.weekday())


def is_summary_night(as_of: date, weekday: int) -> bool:
    """Whether tonight writes the weekly summaries (`weekday` as `date.weekday()`: 0 = Monday)."""
    if not 0 <= weekday <= 6:
        raise ValueError(f"weekly_summary_weekday must be 0..6 (Monday..Sunday), got {weekday}")
    return as_of.weekday() == weekday


def progress(
    user_key: str, plan_id: int, plan: dict, completed: set[str], follow_ups: list[dict], as_of: date
) -> WeeklyFacts:
    """The facts of a weekly summary from a stored plan (`plans.schema.Plan` as JSON) and the user's
    completed modules. A milestone of week w is due once week w has ended (`plans.schema.week_end`)."""
    written = date.fromisoformat(plan["as_of_date"])
    weeks_behind = max(0, (as_of - written).days // 7)
    modules = {m["module_id"]: m for m in plan.get("modules", [])}
    due_ids = [
        mid
        for ms in sorted(plan.get("milestones", []), key=lambda m: m["week"])
        if ms["week"] <= weeks_behind
        for mid in ms["module_ids"]
        if mid in modules
    ]
    due_ids = list(dict.fromkeys(due_ids))
    done_ids = [mid for mid in modules if mid in completed]
    nxt = next((m for m in plan.get("modules", []) if m["module_id"] not in completed), None)
    roles = plan.get("target_roles") or []
    return WeeklyFacts(
        user_key=user_key,
        plan_id=plan_id,
        week=min(weeks_behind + 1, int(plan.get("horizon_weeks") or weeks_behind + 1)),
        modules_done=[(mid, modules[mid]["title"]) for mid in done_ids],
        modules_due=[(mid, modules[mid]["title"]) for mid in due_ids],
        due_done=sum(1 for mid in due_ids if mid in completed),
        hours_done=round(sum(float(modules[mid]["hours"]) for mid in done_ids), 2),
        hours_due=round(sum(float(modules[mid]["hours"]) for mid in due_ids), 2),
        next_step=(nxt["module_id"], nxt["title"]) if nxt else None,
        follow_ups_due=follow_ups,
        target_job=(roles[0]["job_id"], roles[0]["title"]) if roles else None,
    )


def offline_summary(facts: WeeklyFacts) -> WeeklySummary:
    """The deterministic note (the default provider and every fallback): grounded by construction."""
    parts = [f"Week {facts.week} of your plan:"]
    if facts.modules_due:
        parts.append(f"{facts.due_done} of {len(facts.modules_due)} modules due so far done")
    else:
        parts.append("no module due yet")
    parts[-1] += f", {facts.hours_done:g} of {facts.hours_due:g} h due so far."
    modules = []
    if facts.next_step:
        # Titles come from the catalogue and may be long: the note stays short, the id stays exact.
        title = facts.next_step[1] if len(facts.next_step[1]) <= 80 else facts.next_step[1][:77] + "..."
        parts.append(f"Next: {title}.")
        modules.append(CitedModule(module_id=facts.next_step[0], title=facts.next_step[1]))
    else:
        parts.append("Every module of the plan is done.")
    if facts.follow_ups_due:
        n = len(facts.follow_ups_due)
        parts.append(f"{n} follow-up{'s' if n > 1 else ''} due this week.")
    text = " ".join(parts)
    return WeeklySummary(summary=text[:MAX_WEEKLY], modules=modules, jobs=[])


def check_summary(
    answer: WeeklySummary, facts: WeeklyFacts, catalogue: Catalogue, values: set[str]
) -> list[str]:
    """Reasons a summary is refused (empty: accepted): grounding, references, length, tone, privacy."""
    from plans.privacy import leaks

    reasons: list[str] = []
    plan_modules = {m for m, _ in facts.modules_done + facts.modules_due}
    if facts.next_step:
        plan_modules.add(facts.next_step[0])
    plan_modules |= {f["module_id"] for f in facts.follow_ups_due if f.get("module_id")}
    plan_jobs = {f["job_id"] for f in facts.follow_ups_due if f.get("job_id")}
    if facts.target_job:
        plan_jobs.add(facts.target_job[0])
    for m in answer.modules:
        known = catalogue.modules.get(m.module_id)
        if known is None:
            reasons.append(f"grounding: unknown module id {m.module_id}")
        elif norm(m.title) != norm(known[0]):
            reasons.append(f"grounding: module {m.module_id} titled {m.title!r}, catalogue says {known[0]!r}")
        elif m.module_id not in plan_modules:
            reasons.append(f"references: module {m.module_id} is not in the user's plan facts")
    for j in answer.jobs:
        title = catalogue.jobs.get(j.job_id)
        if title is None:
            reasons.append(f"grounding: unknown job id {j.job_id}")
        elif norm(j.title) != norm(title):
            reasons.append(f"grounding: job {j.job_id} titled {j.title!r}, catalogue says {title!r}")
        elif j.job_id not in plan_jobs:
            reasons.append(f"references: job {j.job_id} is not in the user's plan facts")
    cited = [catalogue.modules[m.module_id][0] for m in answer.modules if m.module_id in catalogue.modules]
    cited += [catalogue.jobs[j.job_id] for j in answer.jobs if j.job_id in catalogue.jobs]
    reasons += check_text("weekly summary", answer.summary, MAX_WEEKLY, names=cited)
    texts = "\n".join([answer.summary] + [m.title for m in answer.modules] + [j.title for j in answer.jobs])
    reasons += [f"privacy: answer carries {f}" for f in leaks(texts, values)]
    return reasons


def prompt_facts(facts: WeeklyFacts, token_budget: int) -> dict:
    """The prompt's facts, most useful first, within `token_budget` (~4 bytes a token, as plan prompts)."""
    out: dict = {
        "user_key": facts.user_key,
        "plan_week": facts.week,
        "modules_due_done": facts.due_done,
        "modules_due": len(facts.modules_due),
        "hours_done": facts.hours_done,
        "hours_due": facts.hours_due,
        "next_step": {"module_id": facts.next_step[0], "title": facts.next_step[1]}
        if facts.next_step
        else None,
        "target_job": {"job_id": facts.target_job[0], "title": facts.target_job[1]}
        if facts.target_job
        else None,
        "follow_ups_due": [],
        "modules_done": [],
    }
    size = len(json.dumps(out, ensure_ascii=False).encode())
    queue = [("follow_ups_due", f) for f in facts.follow_ups_due] + [
        ("modules_done", {"module_id": m, "title": t}) for m, t in facts.modules_done
    ]
    for section, item in queue:
        extra = len(json.dumps(item, ensure_ascii=False).encode()) + 2
        if size + extra > token_budget * 4:
            break
        out[section].append(item)
        size += extra
    return out


def weekly_messages(facts: WeeklyFacts, token_budget: int, values: set[str]) -> list[dict]:
    from plans.privacy import scrub

    text = json.dumps(prompt_facts(facts, token_budget), ensure_ascii=False, sort_keys=True)
    return [{"role": "system", "content": SYSTEM_WEEKLY}, {"role": "user", "content": scrub(text, values)}]


def load_facts(conn: psycopg.Connection, as_of: date) -> list[WeeklyFacts]:
    """Facts for every user with a current plan (`marts_build.user_plans`, tonight's), in three queries."""
    plans = conn.execute(
        "select user_key, plan_id, plan from marts_build.user_plans order by user_key"
    ).fetchall()
    if not plans:
        return []
    users = [p[0] for p in plans]
    completed: dict[str, set[str]] = {}
    for user_key, module_id in conn.execute(
        "select user_key, module_id from intermediate.int_learning_progress"
        " where user_key = any(%s) and status = 'completed' and completed_date <= %s",
        (users, as_of),
    ).fetchall():
        completed.setdefault(user_key, set()).add(module_id)
    follow_ups: dict[int, list[dict]] = {}
    for plan_id, kind, job, module, due in conn.execute(
        """
        select plan_id, kind, job_id, module_id, due_date from plans.follow_ups
        where plan_id = any(%s) and status in ('open', 'overdue') and due_date <= %s
        order by due_date, follow_up_id
        """,
        ([p[1] for p in plans], as_of + timedelta(days=7)),
    ).fetchall():
        follow_ups.setdefault(plan_id, []).append(
            {"kind": kind, "job_id": job, "module_id": module, "due_date": due.isoformat()}
        )
    return [
        progress(u, pid, plan, completed.get(u, set()), follow_ups.get(pid, []), as_of)
        for u, pid, plan in plans
    ]


def _catalogue(conn: psycopg.Connection, answers_may_cite: list[WeeklyFacts]) -> Catalogue:
    """Catalogue titles of every id the users' facts hold (an id outside them is unknown to the check)."""
    from plans.inputs import load_catalogue

    modules = {m for f in answers_may_cite for m, _ in f.modules_done + f.modules_due}
    modules |= {f.next_step[0] for f in answers_may_cite if f.next_step}
    modules |= {x["module_id"] for f in answers_may_cite for x in f.follow_ups_due if x.get("module_id")}
    jobs = {f.target_job[0] for f in answers_may_cite if f.target_job}
    jobs |= {x["job_id"] for f in answers_may_cite for x in f.follow_ups_due if x.get("job_id")}
    return load_catalogue(conn, jobs, modules, set())


def write_weekly_summaries(
    conn: psycopg.Connection, as_of: date, run_id: str, weekday: int = 0, router=None
) -> dict:
    """Tonight's weekly summaries (only on `weekday`): through `router` or the offline template.

    Returns what the night's metadata reports: summaries written, provider mix, fallbacks by reason kind,
    and the router's tokens and cost when it ran.
    """
    from plans.privacy import scrub, vault_values
    from plans.router import OFFLINE, POLICIES, Request, Result, constant, fallback_counts, run_recorded

    if not is_summary_night(as_of, weekday):
        return {"written": 0, "skipped": f"not the summary weekday ({weekday})"}
    facts = load_facts(conn, as_of)
    if not facts:
        return {"written": 0}
    policy = POLICIES["weekly_summary"]
    offline = {f.user_key: offline_summary(f) for f in facts}
    if router is None:
        results = [Result(f.user_key, "weekly_summary", offline[f.user_key], OFFLINE, OFFLINE) for f in facts]
    else:
        vault = vault_values(conn, [f.user_key for f in facts])
        catalogue = _catalogue(conn, facts)
        requests = []
        for f in facts:
            values = vault.get(f.user_key, set())
            requests.append(
                Request("weekly_summary", f.user_key, weekly_messages(f, policy.context_token_budget, values),
                        WeeklySummary, functools.partial(check_summary, facts=f, catalogue=catalogue,
                                                          values=values),
                        constant(offline[f.user_key]), functools.partial(scrub, values=values))
            )  # fmt: skip
        results = run_recorded(conn, router, requests, run_id, as_of)
    week = week_start(as_of)
    with conn.cursor() as cur:
        cur.executemany(
            """
            insert into plans.weekly_summaries (user_key, week_start, as_of_date, plan_id, summary, facts,
                provider, model, prompt_version, tokens_in, tokens_out, cost_usd, fallback_reason,
                rejected_reasons, run_id)
            values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            on conflict (user_key, week_start) do update set
                as_of_date = excluded.as_of_date, plan_id = excluded.plan_id, summary = excluded.summary,
                facts = excluded.facts, provider = excluded.provider, model = excluded.model,
                prompt_version = excluded.prompt_version, tokens_in = excluded.tokens_in,
                tokens_out = excluded.tokens_out, cost_usd = excluded.cost_usd,
                fallback_reason = excluded.fallback_reason, rejected_reasons = excluded.rejected_reasons,
                run_id = excluded.run_id, written_at = now()
            """,
            [
                (f.user_key, week, as_of, f.plan_id, r.answer.model_dump_json(), json.dumps(asdict(f)),
                 r.provider, r.model, "offline-v1" if r.provider == OFFLINE else policy.prompt_version,
                 r.tokens_in, r.tokens_out, round(r.cost_usd, 6), r.fallback_reason,
                 json.dumps(r.rejected_reasons), run_id)
                for f, r in zip(facts, results, strict=True)
            ],
        )  # fmt: skip
    out: dict = {
        "written": len(results),
        "week_start": week.isoformat(),
        "provider_mix": dict(Counter(r.provider for r in results)),
        "fallbacks": fallback_counts(r.fallback_reason for r in results),
    }
    if router is not None:
        out["cache_hits"] = sum(1 for a in router.ledger if a.cache_hit)
        out["tokens_in"] = sum(a.tokens_in for a in router.ledger)
        out["tokens_out"] = sum(a.tokens_out for a in router.ledger)
        out["cost_usd"] = round(sum(a.cost_usd for a in router.ledger), 6)
    return out
