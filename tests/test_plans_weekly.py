"""Weekly summaries: progress against the plan's milestones, the offline template, the guardrails, and a
night through the loopback OpenAI-compatible server (the only stand-in)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from core.database import connect
from plans.inputs import Catalogue
from plans.router import POLICIES, Provider, Router
from plans.weekly import (
    CitedJob,
    CitedModule,
    WeeklySummary,
    check_summary,
    is_summary_night,
    load_facts,
    offline_summary,
    progress,
    week_start,
    write_weekly_summaries,
)
from tests.openai_loopback import Loopback, Reply

AS_OF = date(2026, 3, 10)  # a Tuesday
PLAN = {
    "as_of_date": "2026-03-01",
    "horizon_weeks": 8,
    "target_roles": [{"job_id": "j1", "title": "Data Analyst"}],
    "modules": [
        {"module_id": "m1", "title": "SQL Basics", "week": 1, "hours": 4.0},
        {"module_id": "m2", "title": "Statistics", "week": 1, "hours": 3.0},
        {"module_id": "m3", "title": "Dashboards", "week": 3, "hours": 5.0},
    ],
    "milestones": [
        {"week": 1, "module_ids": ["m1"], "description": "d"},
        {"week": 2, "module_ids": ["m2"], "description": "d"},
        {"week": 3, "module_ids": ["m3"], "description": "d"},
    ],
}
CATALOGUE = Catalogue(
    jobs={"j1": "Data Analyst", "j9": "Chef"},
    modules={"m1": ("SQL Basics", "beginner", 4.0), "m2": ("Statistics", "beginner", 3.0),
             "m3": ("Dashboards", "intermediate", 5.0), "m9": ("Knitting", "beginner", 2.0)},
    skills={},
)  # fmt: skip


def test_summary_night_and_week_key():
    assert is_summary_night(date(2026, 3, 9), 0) and not is_summary_night(AS_OF, 0)
    assert is_summary_night(AS_OF, 1)
    assert week_start(AS_OF) == week_start(date(2026, 3, 15)) == date(2026, 3, 9)
    with pytest.raises(ValueError):
        is_summary_night(AS_OF, 7)
    from plans.night import NightConfig

    with pytest.raises(ValueError, match="weekly_summary_weekday"):
        NightConfig(weekly_summary_weekday=-1)


def test_progress_counts_modules_and_hours_due_by_the_weeks_behind():
    # Written 9 days ago: one complete week behind, so week 1's milestone (m1) is due, week 2's not yet.
    facts = progress("u1", 7, PLAN, {"m2"}, [{"kind": "check_in", "job_id": None, "module_id": None}], AS_OF)
    assert facts.week == 2
    assert facts.modules_due == [("m1", "SQL Basics")] and facts.due_done == 0 and facts.hours_due == 4.0
    assert facts.modules_done == [("m2", "Statistics")] and facts.hours_done == 3.0
    assert facts.next_step == ("m1", "SQL Basics") and facts.target_job == ("j1", "Data Analyst")
    later = progress("u1", 7, PLAN, {"m1", "m2", "m3"}, [], AS_OF + timedelta(days=60))
    assert later.week == 8 and later.due_done == 3 and later.hours_due == 12.0 and later.next_step is None


def test_offline_summary_is_deterministic_and_passes_its_own_guardrails():
    facts = progress("u1", 7, PLAN, {"m2"}, [{"kind": "check_in", "job_id": None, "module_id": None}], AS_OF)
    first = offline_summary(facts)
    assert first == offline_summary(facts)
    assert first.summary == (
        "Week 2 of your plan: 0 of 1 modules due so far done, 3 of 4 h due so far. Next: SQL Basics."
        " 1 follow-up due this week."
    )
    assert first.modules == [CitedModule(module_id="m1", title="SQL Basics")]
    assert check_summary(first, facts, CATALOGUE, {"Quinlan"}) == []


def test_summary_guardrails_name_each_broken_rule():
    facts = progress("u1", 7, PLAN, {"m2"}, [], AS_OF)

    def reasons(**kw):
        answer = WeeklySummary(summary=kw.get("summary", "Good week."), modules=kw.get("modules", []),
                               jobs=kw.get("jobs", []))  # fmt: skip
        return check_summary(answer, facts, CATALOGUE, {"Quinlan", "quinlan@mail.test"})

    assert reasons() == []
    assert reasons(modules=[CitedModule(module_id="m404", title="X")]) == [
        "grounding: unknown module id m404"
    ]
    assert reasons(modules=[CitedModule(module_id="m1", title="SQL Advanced")])[0].startswith(
        "grounding: module m1 titled"
    )
    assert reasons(modules=[CitedModule(module_id="m9", title="Knitting")])[0].startswith("references:")
    assert reasons(jobs=[CitedJob(job_id="j404", title="X")]) == ["grounding: unknown job id j404"]
    assert reasons(jobs=[CitedJob(job_id="j9", title="Chef")])[0].startswith("references:")
    assert reasons(jobs=[CitedJob(job_id="j1", title="data  analyst")]) == []  # re-cased, not renamed
    assert reasons(summary="Well done, Quinlan.") == ["privacy: answer carries vault value"]
    assert reasons(summary="x" * 401)[0].startswith("length:")
    assert reasons(summary="We guarantee a job.")[0].startswith("tone:")


@pytest.mark.slow  # a seeded world, an offline night and a routed one with re-asks (~4 s here)
def test_llm_summaries_with_unknown_ids_or_personal_data_are_replaced_offline(pg_server):
    from plans.night import NightConfig, run_night
    from tests.conftest import make_database
    from tests.plans_world import seed_world

    params = make_database(pg_server, "plans_weekly")
    with connect(params) as conn:
        users = seed_world(conn, 6, AS_OF)
        for i, key in enumerate(users):
            conn.execute(
                "insert into pii_vault.resumes (resume_id, user_key, full_name, email, phone)"
                " values (%s, %s, %s, %s, %s)",
                (f"r{i}", key, f"Quinlan{i} Vasquezova", f"quinlan{i}@mail.test", f"+1 555 010 {1000 + i}"),
            )
    # The offline night on the configured weekday (Tuesday) plans everyone and writes their summaries.
    report = run_night(params, AS_OF, "w1", NightConfig(weekly_summary_weekday=1))
    assert report.weekly_summaries["written"] == len(users)
    assert report.weekly_summaries["provider_mix"] == {"offline": len(users)}
    assert run_night(params, AS_OF, "w1b", NightConfig()).weekly_summaries["written"] == 0  # not Monday

    next_week = AS_OF + timedelta(days=7)
    with connect(params) as conn:
        facts = {f.user_key: f for f in load_facts(conn, next_week)}
    bad_id, personal, good = users[0], users[1], users[2]

    def script(user: str, n: int, body: dict) -> Reply:
        f = facts[user]
        cited = [{"module_id": f.next_step[0], "title": f.next_step[1]}] if f.next_step else []
        text = f"Week {f.week}: keep going with your next module."
        if user == bad_id:
            cited = [{"module_id": "m99999", "title": "A module nobody offers"}]
        elif user == personal:
            text = f"Well done Quinlan1, week {f.week} is on track."
        return Reply(content=json.dumps({"summary": text, "modules": cited, "jobs": []}))

    with Loopback(script) as server, connect(params) as conn:
        router = Router(POLICIES["weekly_summary"], [Provider("primary", server.base_url, "gpt-4o-mini")])
        out = write_weekly_summaries(conn, next_week, "w2", weekday=1, router=router)
        rows = {
            r[0]: r[1:]
            for r in conn.execute(
                "select user_key, provider, fallback_reason, summary from plans.weekly_summaries"
                " where week_start = %s",
                (week_start(next_week),),
            ).fetchall()
        }
        ledger = conn.execute(
            "select coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0) from plans.llm_calls"
            " where run_id = 'w2' and task = 'weekly_summary'"
        ).fetchone()
    assert out["written"] == len(users) and out["provider_mix"] == {"primary": len(users) - 2, "offline": 2}
    assert out["fallbacks"] == {"invalid": 1, "privacy": 1}
    for user in (bad_id, personal):
        provider, _reason, summary = rows[user]
        assert provider == "offline" and summary == offline_summary(facts[user]).model_dump()
    assert "unknown module id m99999" in rows[bad_id][1]
    assert rows[personal][1].startswith("primary: privacy")
    assert rows[good][0] == "primary" and "Quinlan" not in json.dumps(rows[good][2])
    # The personal value never went out in a request (scrubbed), and the ledger equals what was returned.
    assert not any("Quinlan" in b or "quinlan" in b for b in server.bodies)
    assert (
        tuple(int(x) for x in ledger) == server.tokens() and len(server.bodies) == len(users) + 2
    )  # 2 re-asks

    # A re-run of the week is all cache hits and upserts the same rows.
    with connect(params) as conn:
        # The provider's port is closed: only the cache can answer.
        closed = [Provider("primary", "http://127.0.0.1:9/v1", "gpt-4o-mini")]
        again = write_weekly_summaries(
            conn, next_week, "w3", weekday=1, router=Router(POLICIES["weekly_summary"], closed)
        )
        count = conn.execute(
            "select count(*) from plans.weekly_summaries where week_start = %s", (week_start(next_week),)
        ).fetchone()
    assert again["cache_hits"] == len(users) + 2 and again["tokens_in"] == 0
    assert again["provider_mix"] == out["provider_mix"] and count == (len(users),)
