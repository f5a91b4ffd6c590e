"""Plans: the schema, the planner's inputs read in PostgreSQL, the offline planner and the guardrails."""

from __future__ import annotations

import dataclasses
import time
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.database import connect
from plans.guardrails import assemble, catalogue_from_context, check, covered_weight
from plans.inputs import INPUT_COLUMNS, GapFact, InputConfig, ModuleFact, PlanningContext, load_contexts
from plans.offline import PlannerConfig, choose_modules, plan_offline
from plans.schema import Plan, PlanDraft
from tests.plans_world import MODELS, model_columns, seed_world

AS_OF = date(2026, 3, 10)


@pytest.fixture(scope="module")
def world(pg_server):
    from tests.conftest import make_database

    params = make_database(pg_server, "plans_core")
    with connect(params) as conn:
        users = seed_world(conn, 300, AS_OF)
    with connect(params) as conn:
        contexts = load_contexts(conn, users, AS_OF)
    return params, users, contexts


def test_input_columns_exist_in_the_dbt_models():
    for model, columns in INPUT_COLUMNS.items():
        declared = {c for c, _ in model_columns(model)}
        sql = next(MODELS.rglob(f"{model}.sql")).read_text()
        for column in columns:
            assert column in declared and column in sql, f"{model}.{column}"


def test_contexts_are_read_for_every_user_with_recommendations(world):
    _, users, contexts = world
    assert set(contexts) == set(users)
    ctx = contexts[users[0]]
    assert [j.rank for j in ctx.jobs] == [1, 2, 3, 4, 5]
    assert len(ctx.gaps) == 16 and ctx.gaps[0].gap_weight >= ctx.gaps[-1].gap_weight  # all 16 of the target
    assert ctx.target_soc_code is not None
    # Candidate modules teach the user's gaps and never include a completed one.
    gap_ids = {g.skill_id for g in ctx.gaps}
    assert any(set(m.skills) & gap_ids for m in ctx.modules)
    for c in contexts.values():
        assert not {m.module_id for m in c.modules} & c.completed


def test_gaps_weigh_what_the_target_needs_most_and_a_claim_is_not_mastery(world):
    params, users, contexts = world
    ctx = contexts[users[0]]
    with connect(params) as conn:
        weight = dict(
            conn.execute(
                "select skill_id, distinctive_weight from intermediate.int_occupation_skill_weights"
                " where soc_code = %s",
                (ctx.target_soc_code,),
            ).fetchall()
        )
        claimed = dict(
            conn.execute(
                "select skill_id, weight from features.user_skills where user_key = %s", (users[0],)
            ).fetchall()
        )
    claim = InputConfig().claimed_proficiency
    assert claimed and set(claimed) <= set(weight)
    for g in ctx.gaps:
        # Claimed on a resume (1.0) or implied by a role (0.6): still a gap, of (1 - claim cap) at most.
        expected = weight[g.skill_id] * (1 - min(claimed.get(g.skill_id, 0.0), claim))
        assert abs(g.gap_weight - expected) < 1e-9, g
    assert {g.skill_id for g in ctx.gaps} == set(weight)


def test_a_user_who_aims_at_nothing_yet_is_planned_toward_their_best_recommended_job(world):
    params, users, _ = world
    user = users[1]
    with connect(params) as conn:
        conn.execute("delete from features.user_skill_gaps where user_key = %s", (user,))
        ctx = load_contexts(conn, [user], AS_OF)[user]
        conn.rollback()
    assert ctx.target_soc_code == ctx.jobs[0].soc_code is not None
    assert ctx.gaps and ctx.modules


def test_the_pool_keeps_the_best_modules_of_every_gap(world):
    """A small pool holds, for each of its modules, the best module per hour on one of the user's gaps."""
    params, users, _ = world
    with connect(params) as conn:
        small = load_contexts(conn, users[:20], AS_OF, InputConfig(candidate_modules=6))
        full = load_contexts(conn, users[:20], AS_OF, InputConfig(candidate_modules=10_000))
    for user in users[:20]:
        weight = {g.skill_id: g.gap_weight for g in full[user].gaps}

        def per_hour(m, weight=weight):
            return sum(weight[s] for s in m.skills) / m.hours

        best = {s: max(per_hour(m) for m in full[user].modules if s in m.skills) for s in weight}
        pooled = [m for m in small[user].modules if m.recommended_rank is None]
        assert 0 < len(pooled) <= 6
        for m in pooled:
            assert any(abs(per_hour(m) - best[s]) < 1e-12 for s in m.skills), (user, m)


def _module(module_id: str, hours: float, skills: tuple[str, ...]) -> ModuleFact:
    return ModuleFact(module_id, f"Module {module_id}", "beginner", hours, skills, None)


def test_a_started_module_wins_at_comparable_value_not_whatever_it_closes():
    gaps = [GapFact("a", "A", 1.0), GapFact("b", "B", 0.2), GapFact("c", "C", 0.9)]
    modules = [_module("m1", 4, ("a",)), _module("m2", 4, ("b",)), _module("m3", 4, ("c",))]
    config = PlannerConfig(weekly_hours=4, horizon_weeks=1)  # room for one module

    def chosen(in_progress: set[str]) -> list[str]:
        ctx = PlanningContext("u", AS_OF, "soc", gaps=gaps, modules=modules, in_progress=in_progress)
        return [m.module_id for m in choose_modules(ctx, config)]

    assert chosen(set()) == ["m1"]
    assert chosen({"m2"}) == ["m1"]  # started, but it closes a fifth of what m1 does
    assert chosen({"m3"}) == ["m3"]  # started and nearly as valuable: finishing beats starting


def test_offline_plans_pass_every_guardrail_and_are_deterministic(world):
    _, users, contexts = world
    config = PlannerConfig()
    timings = []
    for key in users:
        ctx = contexts[key]
        t = time.perf_counter()
        draft = plan_offline(ctx, config)
        plan, schema_reasons = assemble(draft, ctx, config.weekly_hours, config.horizon_weeks)
        timings.append(time.perf_counter() - t)
        reasons = check(
            draft, ctx, catalogue_from_context(ctx), config.weekly_hours, config.horizon_weeks,
            covered_weight(draft.modules, ctx),
        )  # fmt: skip
        assert not schema_reasons and not reasons, (key, schema_reasons, reasons)
        assert plan is not None and sum(m.hours for m in plan.modules) <= config.hours_budget
        assert plan_offline(ctx, config) == draft
    assert sorted(timings)[int(0.95 * len(timings))] < 0.05


def _broken(draft: PlanDraft, **changes) -> PlanDraft:
    return draft.model_copy(update=changes)


def test_guardrails_name_each_broken_rule(world):
    _, users, contexts = world
    ctx = contexts[users[1]]
    config = PlannerConfig()
    draft = plan_offline(ctx, config)
    cat = catalogue_from_context(ctx)
    ref = covered_weight(draft.modules, ctx)

    def reasons(d):
        return check(d, ctx, cat, config.weekly_hours, config.horizon_weeks, ref)

    role = draft.target_roles[0]
    assert any("unknown job id j999999" in r for r in reasons(
        _broken(draft, target_roles=[role.model_copy(update={"job_id": "j999999"})])))  # fmt: skip
    wrong_title = _broken(draft, target_roles=[role.model_copy(update={"title": "Chief Astronaut"})])
    assert any(r.startswith("grounding: job") and "Chief Astronaut" in r for r in reasons(wrong_title))
    m0 = draft.modules[0]
    renamed = [m0.model_copy(update={"title": "Made up"}), *draft.modules[1:]]
    assert any("titled" in r for r in reasons(_broken(draft, modules=renamed)))
    assert any(r.startswith("duplicates") for r in reasons(_broken(draft, modules=[m0, m0])))
    assert any(r.startswith("order") for r in reasons(_broken(draft, modules=list(reversed(draft.modules)))))
    assert any(
        r.startswith("coverage") for r in reasons(_broken(draft, modules=[], milestones=[], follow_ups=[]))
    )
    assert any(r.startswith("tone") for r in reasons(_broken(draft, summary="We GUARANTEE you a job!!")))
    assert any(r.startswith("length") for r in reasons(_broken(draft, summary="x" * 700)))
    # A catalogue name the text repeats is neither shouting nor blame ("MATLAB", "Failure Analysis").
    name = "Applied MATLAB for Failure Analysis"
    _, level, hours = cat.modules[m0.module_id]
    named = dataclasses.replace(cat, modules={**cat.modules, m0.module_id: (name, level, hours)})
    retitled = [m0.model_copy(update={"title": name}), *draft.modules[1:]]

    def tone(summary: str) -> list[str]:
        d = _broken(draft, modules=retitled, summary=summary)
        verdict = check(d, ctx, named, config.weekly_hours, config.horizon_weeks, ref)
        return [r for r in verdict if r.startswith("tone")]

    assert tone(f"Start with {name}.") == []
    assert tone(f"Start with {name}, a total FAILURE otherwise.") == [
        "tone: summary uses ['failure']",
        "tone: summary shouts",
    ]


def test_schema_rejects_an_incoherent_plan(world):
    _, users, contexts = world
    ctx = contexts[users[2]]
    config = PlannerConfig()
    plan, _ = assemble(plan_offline(ctx, config), ctx, config.weekly_hours, config.horizon_weeks)
    data = plan.model_dump(mode="json")
    Plan.model_validate(data)
    with pytest.raises(ValidationError, match="twice"):
        Plan.model_validate({**data, "modules": data["modules"] + data["modules"][:1]})
    with pytest.raises(ValidationError):
        Plan.model_validate({**data, "unexpected": 1})
    assert Path(__file__).exists()


def test_the_asset_audits_the_suite_the_publisher_requires():
    import assets.plans
    import plans.night

    assert assets.plans.AUDIT_SUITE == plans.night.AUDIT_SUITE


def test_rate_limiter_holds_requests_and_tokens_per_minute():
    import asyncio

    from plans.router import RateLimiter

    now = [0.0]
    limiter = RateLimiter(rpm=2, tpm=100, clock=lambda: now[0])

    async def scenario():
        await limiter.acquire(40)
        await limiter.acquire(40)
        blocked = asyncio.ensure_future(limiter.acquire(10))  # a third request within the minute waits
        await asyncio.sleep(0.05)
        assert not blocked.done()
        now[0] = 61.0
        await asyncio.wait_for(blocked, 2)

    asyncio.run(scenario())
    assert len(limiter.events) == 1 and limiter.tokens == 10


def test_envelope_bound_covers_the_tokens_a_server_counts():
    from plans.router import Budget, input_token_bound, strict_response_format

    messages = [{"role": "system", "content": "é" * 50}, {"role": "user", "content": "x" * 400}]
    bound = input_token_bound(messages, strict_response_format(PlanDraft))
    assert bound >= len(("é" * 50 + "x" * 400).encode())
    budget = Budget(1.0)
    assert budget.reserve(0.6) and not budget.reserve(0.5) and budget.refused == 1
    budget.settle(0.6, 0.2)
    assert budget.reserve(0.7) and budget.spent == 0.2


def test_oracle_plan_closes_more_true_need_than_random_plans_within_the_budget():
    import numpy as np

    from plans.evaluation import _oracle_plan, _random_plan

    rng = np.random.default_rng(3)
    need = rng.random(50) * (rng.random(50) < 0.3)
    m_skill = rng.integers(0, 50, size=(80, 3)).astype(np.int16)
    hours = rng.integers(2, 9, size=80).astype(float)
    module_num = np.arange(80)

    def closed(chosen):
        return sum(need[s] for s in {int(x) for i in chosen for x in m_skill[i]}) / need.sum()

    oracle = _oracle_plan(list(range(80)), hours, 40.0, need, m_skill, module_num)
    assert sum(hours[i] for i in oracle) <= 40.0
    randoms = [closed(_random_plan(list(range(80)), hours, 40.0, rng)) for _ in range(20)]
    assert closed(oracle) > max(randoms)


def test_fallbacks_are_counted_by_their_chain_of_reasons():
    from plans.router import fallback_counts

    reasons = [
        "primary: timeout; secondary: budget_exhausted",
        "primary: timeout; secondary: budget_exhausted",
        "secondary: attempts_exhausted: server_error",
        None,
        "",
    ]
    assert fallback_counts(reasons) == {"timeout>budget_exhausted": 2, "attempts_exhausted": 1}


def test_the_lazy_greedy_chooses_exactly_what_the_full_scan_chooses():
    """The heap only skips rescoring: on random pools full of ties (equal weights, equal hours, duplicate
    ids, started and recommended modules) it must pick the same modules in the same order as the scan."""
    import random

    from plans.offline import _greedy_lazy, _greedy_scan

    rng = random.Random(12)
    config = PlannerConfig(weekly_hours=5, horizon_weeks=4)
    differences = 0
    for _ in range(2_000):
        skills = [f"s{i}" for i in range(rng.randint(1, 12))]
        weights = {s: rng.choice([0.0, 0.25, 0.5, 1.0, rng.random()]) for s in skills}
        pool = [
            ModuleFact(f"m{rng.randint(0, 30)}", "t", "beginner", float(rng.choice([1, 2, 2, 4, 7, 3.5])),
                       tuple(rng.sample([*skills, "other"], rng.randint(1, min(3, len(skills) + 1)))),
                       rng.choice([None, None, 1, 5]))
            for _ in range(rng.randint(0, 40))
        ]  # fmt: skip
        started = {m.module_id for m in pool if rng.random() < 0.2}
        scan = _greedy_scan(pool, weights, started, config.hours_budget, config)
        lazy = _greedy_lazy(pool, weights, started, config.hours_budget, config)
        differences += [id(m) for m in scan] != [id(m) for m in lazy]
    assert differences == 0


def test_names_are_taken_out_of_a_text_as_one_substitution_per_name_would():
    """The substring shortcut of the tone rules must not change what is left of a text, ASCII or not."""
    import random
    import re

    from plans.guardrails import _longest_first, _without_names

    rng = random.Random(3)
    alphabet = "abcAB -!ſKkßSsİi"
    for _ in range(3_000):
        names = _longest_first(["".join(rng.choices(alphabet, k=rng.randint(0, 4))) for _ in range(4)])
        text = "".join(rng.choices(alphabet + "xyz", k=rng.randint(0, 30)))
        expected = text
        for name in names:
            expected = re.sub(re.escape(name), " ", expected, flags=re.I)
        assert _without_names(text, names) == expected, (text, names)
    ascii_only = _longest_first(["Applied MATLAB", "matlab", "Failure Analysis"])
    assert _without_names("After APPLIED matlab and failure analysis", ascii_only) == "After   and  "


def test_module_batches_give_every_user_the_same_pool(world):
    """The candidate-module query runs per batch of users (bounded temporary files at tier M): 300 users
    in batches of 7 get the modules one batch gives them, in the same order."""
    params, users, contexts = world
    with connect(params) as conn:
        batched = load_contexts(conn, users, AS_OF, InputConfig(module_batch_users=7))
    assert len(contexts) > 7 and batched.keys() == contexts.keys()
    for user, ctx in contexts.items():
        assert [m.module_id for m in batched[user].modules] == [m.module_id for m in ctx.modules], user
    assert sum(len(c.modules) for c in contexts.values()) > 0
