"""Plans nights through the router against a loopback OpenAI-compatible server (the only stand-in).

One module-scoped world of 24 users on real PostgreSQL. Night 1 is offline (everyone gets an approved
plan); night 2 regenerates everyone through the LLM path (a config switch) with one scripted failure per
user; later nights re-run, exhaust the budget, and honour the review queue's overrides.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest

from core.database import connect
from core.publish import PublishSpec, publish
from plans.inputs import load_contexts
from plans.night import AUDIT_SUITE, NightConfig, audit_user_plans, run_night
from plans.offline import PlannerConfig, plan_offline
from plans.router import POLICIES, Provider
from tests.openai_loopback import Loopback, Reply
from tests.plans_world import seed_world

AS_OF = date(2026, 3, 10)
pytestmark = pytest.mark.slow  # several nights with scripted timeouts and retries
PLANTED_EMAIL = "ceo.canary@example.com"


@pytest.fixture(scope="module")
def world(pg_server):
    from tests.conftest import make_database

    params = make_database(pg_server, "plans_night")
    with connect(params) as conn:
        users = seed_world(conn, 24, AS_OF)
        # Vault values for every user, and one contact planted in a catalogue title (the redactor's job).
        for i, key in enumerate(users):
            conn.execute(
                "insert into pii_vault.identifiers (kind, pseudonym, original) values ('user', %s, %s)",
                (key, f"ORIG-{i:04d}-X"),
            )
            conn.execute(
                "insert into pii_vault.resumes (resume_id, user_key, full_name, email, phone)"
                " values (%s, %s, %s, %s, %s)",
                (f"r{i}", key, f"Quinlan{i} Vasquezova", f"quinlan{i}@mail.test", f"+1 555 010 {1000 + i}"),
            )
        conn.execute(
            "update marts_build.dim_jobs set title = title || ' (contact "
            + PLANTED_EMAIL
            + ")' where job_id = 'j000000'"
        )
    with connect(params) as conn:
        contexts = load_contexts(conn, users, AS_OF)
    config = NightConfig()
    drafts = {k: plan_offline(c, config.planner) for k, c in contexts.items()}
    return params, users, drafts


def load_contexts_for(params, users):
    with connect(params) as conn:
        return load_contexts(conn, users, AS_OF)


def good(draft) -> str:
    return draft.model_copy(
        update={"summary": "A plan written by the model: " + draft.summary[:200]}
    ).model_dump_json()


def published(params, run_id, partition):
    with connect(params) as conn:
        verdict = audit_user_plans(conn, run_id, partition)
    publish(params, [PublishSpec("user_plans")], run_id=run_id, partition_key=partition, window=None,
            required_suites=[AUDIT_SUITE])  # fmt: skip
    return verdict


def rows(params, sql, *args):
    with connect(params) as conn:
        return conn.execute(sql, args).fetchall()


def chain(server: Loopback) -> list[Provider]:
    return [
        Provider("primary", server.base_url, "gpt-4o-mini"),
        Provider("secondary", server.base_url, "gpt-4.1-nano"),
    ]


def test_offline_night_plans_everyone_and_publishes(world):
    params, users, _ = world
    report = run_night(params, AS_OF, "n1", NightConfig())
    assert report.users_planned == len(users) and report.provider_mix == {"offline": len(users)}
    assert report.statuses == {"auto_approved": len(users)} and report.offline_p95_ms < 50
    assert published(params, "n1", AS_OF.isoformat())["success"]
    assert rows(params, "select count(*) from marts.user_plans")[0][0] == len(users)
    # Unchanged inputs: nobody is planned again.
    again = run_night(params, AS_OF, "n1b", NightConfig())
    assert again.users_planned == 0 and again.unchanged == len(users)


def test_llm_night_every_failure_ends_in_a_valid_published_plan(world):
    params, users, drafts = world
    u = users
    wrong_title = drafts[u[7]].model_copy(
        update={
            "modules": [
                drafts[u[7]].modules[0].model_copy(update={"title": "Astrophysics 101"}),
                *drafts[u[7]].modules[1:],
            ]
        }
    )
    unknown = drafts[u[6]].model_copy(
        update={
            "modules": [
                drafts[u[6]].modules[0].model_copy(update={"module_id": "m99999"}),
                *drafts[u[6]].modules[1:],
            ]
        }
    )
    echo = drafts[u[8]].model_copy(
        update={"summary": "Quinlan8, here is your plan; write to quinlan8@mail.test."}
    )
    behaviour = {
        u[1]: lambda n: Reply(429, headers={"retry-after": "0.2"}) if n == 1 else None,
        u[2]: lambda n: Reply(500) if n == 1 else None,
        u[3]: lambda n: Reply(504, delay_s=4.0) if n == 1 else None,  # the client times out first
        u[4]: lambda n: Reply(200, content='{"target_roles": [') if n == 1 else None,  # malformed JSON
        u[5]: lambda n: Reply(200, content=json.dumps({"plan": "not this schema"})),  # schema-invalid, twice
        u[6]: lambda n: Reply(200, content=unknown.model_dump_json()),
        u[7]: lambda n: Reply(200, content=wrong_title.model_dump_json()),
        u[8]: lambda n: Reply(200, content=echo.model_dump_json()),
        u[9]: lambda n: Reply(503),  # primary and secondary down
    }  # fmt: skip

    def script(user, n, body):
        if "follow-up message" in body["messages"][0]["content"]:
            return Reply(200, content=json.dumps({"message": "How is your module going? Keep at it."}))
        reply = behaviour.get(user, lambda n: None)(n)
        return reply or Reply(200, content=good(drafts[user]))

    plan_policy = POLICIES["plan"]
    POLICIES["plan"] = replace(plan_policy, timeout_s=3.0)
    try:
        with Loopback(script) as server:
            report = run_night(
                params, AS_OF, "n2", NightConfig(provider="llm", full_regeneration=True), chain(server)
            )
            sent_in, sent_out = server.tokens()
            bodies = list(server.bodies)
    finally:
        POLICIES["plan"] = plan_policy
    assert report.users_planned == len(users)
    by_user = {r[0]: r[1:] for r in rows(
        params, "select user_key, provider, fallback_reason, status, guardrail_passed"
        " from plans.plan_versions"
        " where run_id = 'n2'")}  # fmt: skip
    # Users whose roles include the job with the planted contact in its title: the answer repeats the title,
    # the output scan refuses it (the catalogue text is not the model's to publish), the offline plan serves.
    planted = {k for k, d in drafts.items() if any(r.job_id == "j000000" for r in d.target_roles)}
    for key in planted:
        assert by_user[key][0] == "offline" and "privacy" in by_user[key][1]
    for key in sorted(set([u[0], u[1], u[2], u[3], u[4], *u[10:]]) - planted):
        assert by_user[key][0] == "primary" and by_user[key][2] == "auto_approved", (key, by_user[key])
    for key, why in [(u[5], "invalid: schema"), (u[6], "unknown module id m99999"),
                     (u[7], "Astrophysics 101"),
                     (u[8], "privacy"), (u[9], "secondary: attempts_exhausted: server_error")]:  # fmt: skip
        provider, reason, status, passed = by_user[key]
        assert provider == "offline" and why in reason and status == "auto_approved" and passed, (
            key,
            by_user[key],
        )
    # The ledger: one row per attempt, tokens equal to what the server returned, cost within the envelope.
    (n_calls, t_in, t_out, cost) = rows(
        params, "select count(*), sum(tokens_in), sum(tokens_out), sum(cost_usd)"
        " from plans.llm_calls where run_id = 'n2' and not cache_hit")[0]  # fmt: skip
    assert (t_in, t_out) == (sent_in, sent_out)
    # Every request the server saw is a ledger row; a timed-out attempt may never have reached it.
    timeouts = rows(
        params, "select count(*) from plans.llm_calls where run_id = 'n2' and outcome = 'timeout'"
    )[0][0]
    assert n_calls - timeouts <= len(bodies) <= n_calls, rows(
        params,
        "select outcome, left(error, 120), count(*) from plans.llm_calls where run_id = 'n2' group by 1, 2",
    )
    assert float(cost) <= POLICIES["plan"].night_envelope_usd and report.within_envelope
    outcomes = {
        r[0] for r in rows(params, "select distinct outcome from plans.llm_calls where run_id = 'n2'")
    }
    assert {"ok", "rate_limited", "server_error", "timeout"} <= outcomes
    # Privacy canary: no vault value and no planted contact ever left in a request body.
    for i in range(len(users)):
        for value in (f"Quinlan{i} ", f"quinlan{i}@mail.test", f"555 010 {1000 + i}", f"ORIG-{i:04d}-X"):
            assert not any(value in b for b in bodies), value
    assert not any(PLANTED_EMAIL in b for b in bodies)
    assert published(params, "n2", AS_OF.isoformat())["success"]
    pub = rows(params, "select count(*), count(*) filter (where provider = 'primary') from marts.user_plans")[
        0
    ]
    assert pub[0] == len(users) and pub[1] >= 14 - len(planted)
    assert not rows(params, "select 1 from marts.user_plans where plan::text ilike '%%quinlan%%'")


def test_rerun_of_a_night_is_all_cache_hits(world):
    params, users, drafts = world

    def script(user, n, body):
        raise AssertionError("a re-run must not call the model")

    # The failures of night 2 were transport errors (not cached) for u1..u4 and u9: re-run a clean night.
    clean = lambda user, n, body: Reply(200, content=good(drafts[user]))  # noqa: E731
    with Loopback(clean) as server:
        run_night(params, AS_OF, "n3", NightConfig(provider="llm", full_regeneration=True), chain(server))
    with Loopback(clean) as server:
        report = run_night(
            params, AS_OF, "n3", NightConfig(provider="llm", full_regeneration=True), chain(server)
        )
        assert server.bodies == []
    assert report.cache_hits >= len(users) and report.llm_calls == 0 and report.tokens_in == 0


def test_budget_exhausted_mid_night_falls_back_offline_within_the_envelope(world):
    params, users, drafts = world
    calls = []

    def script(user, n, body):
        calls.append(user)
        return Reply(200, content=good(drafts[user]).replace("written by the model", "written again"))

    envelope = 0.004  # a few worst-case plan calls of gpt-4o-mini
    with Loopback(script) as server:
        # Other constraints make other prompts (no cache hit from earlier nights).
        config = NightConfig(provider="llm", full_regeneration=True, night_envelope_usd=envelope,
                             concurrency=4,
                             planner=PlannerConfig(weekly_hours=6))  # fmt: skip
        report = run_night(params, AS_OF, "n4", config, chain(server))
    assert 0 < len(calls) < 2 * len(users)
    assert report.cost_usd <= envelope and report.within_envelope
    reasons = [
        r[0] for r in rows(params, "select fallback_reason from plans.plan_versions where run_id = 'n4'")
    ]
    assert any(r and "budget_exhausted" in r for r in reasons)
    assert len(reasons) == len(users)


def test_review_overrides_are_honoured_the_next_night(world):
    from plans.review import decide, pending, pin

    params, users, drafts = world
    u = users
    world_contexts = load_contexts_for(params, users)

    def different(user):  # other target roles (tonight's 4th and 5th jobs): too far to auto-approve
        from plans.schema import TargetRole

        d, jobs = drafts[user], world_contexts[user].jobs[3:5]
        roles = [TargetRole(job_id=j.job_id, title=j.title) for j in jobs]
        follow_ups = [
            f.model_copy(update={"job_id": roles[0].job_id}) if f.job_id else f for f in d.follow_ups
        ]
        return d.model_copy(update={"target_roles": roles, "follow_ups": follow_ups}).model_dump_json()

    queued = {u[11], u[12], u[13]}
    config = NightConfig(provider="llm", full_regeneration=True, planner=PlannerConfig(weekly_hours=7))

    def script(user, n, body):
        return Reply(200, content=different(user) if user in queued else good(drafts[user]))

    plan_policy = POLICIES["plan"]
    POLICIES["plan"] = replace(plan_policy, max_auto_distance=0.2)
    try:
        with Loopback(script) as server:
            run_night(params, AS_OF, "n5", config, chain(server))
    finally:
        POLICIES["plan"] = plan_policy
    waiting = {r["user_key"]: r for r in pending(params)}
    assert queued <= set(waiting)
    edited = dict(waiting[u[11]]["plan"])
    edited["summary"] = "Edited by a reviewer."
    decide(params, waiting[u[11]]["plan_id"], "edit", "ana", edited_plan=edited, reason="clearer")
    decide(params, waiting[u[12]]["plan_id"], "reject", "ana", reason="too short")
    pin(params, waiting[u[13]]["plan_id"], "ana", "keep this one")
    with pytest.raises(ValueError, match="not a valid plan"):
        decide(params, waiting[u[13]]["plan_id"], "edit", "ana", edited_plan={"summary": "x"})
    with Loopback(lambda user, n, body: Reply(200, content=good(drafts[user]))) as server:
        report = run_night(params, AS_OF, "n6", replace(config, full_regeneration=False), chain(server))
    assert report.decisions_applied == {"edited": 1, "rejected": 1}
    current = {
        r[0]: r[1:]
        for r in rows(
            params, "select user_key, provider, status, plan ->> 'summary' from marts_build.user_plans"
        )
    }
    assert current[u[11]] == ("human", "approved", "Edited by a reviewer.")
    assert current[u[12]][0] == "offline"  # rejected: tonight's offline plan
    assert current[u[13]][1] == "pinned"


def test_follow_ups_are_marked_from_events_and_messaged(world):
    from plans.followups import refresh_follow_ups, write_messages

    params, _, _ = world
    with connect(params) as conn:
        open_rows = conn.execute(
            "select f.follow_up_id, f.user_key, f.job_id from plans.follow_ups as f"
            " where f.status = 'open' and f.kind = 'apply_after_module' order by 1"
        ).fetchall()
        assert open_rows
        fid, user, job = open_rows[0]
        conn.execute(
            "insert into marts_build.fct_interactions (event_id, user_key, event_type, item_type, item_id,"
            " occurred_at, event_date) values ('e-apply', %s, 'job_apply', 'job', %s, %s, %s)",
            (user, job, AS_OF + timedelta(days=1), AS_OF + timedelta(days=1)),
        )
        first = refresh_follow_ups(conn, AS_OF + timedelta(days=2), "f1")
        assert first["done"] >= 1
        assert conn.execute(
            "select status from plans.follow_ups where follow_up_id = %s", (fid,)
        ).fetchone() == ("done",)
        later = refresh_follow_ups(conn, AS_OF + timedelta(days=70), "f2")
        assert later["overdue"] > 0
        statuses = dict(conn.execute("select status, count(*) from plans.follow_ups group by 1").fetchall())
        assert statuses.get("cancelled", 0) > 0  # follow-ups of superseded plans
        sent = write_messages(conn, AS_OF + timedelta(days=70), "f2")
        assert sent["messages"] == statuses["overdue"]


def test_follow_up_messages_replayed_after_a_rollback_cost_nothing(world):
    """A night whose follow-up messages were rolled back (the answers' cache rows kept) writes them again
    from the cache: the model is not called and no token is spent twice."""
    from plans.followups import refresh_follow_ups, write_messages
    from plans.router import Router

    params, _, _ = world
    day = AS_OF + timedelta(days=70)  # every open follow-up of the earlier nights is due by then
    answer = json.dumps({"message": "How is your module going? Keep at it."})

    def router(server: Loopback) -> Router:
        return Router(POLICIES["follow_up"], chain(server), concurrency=4)

    def spent(conn, run_id):
        return conn.execute(
            "select count(*) filter (where cache_hit), count(*) filter (where not cache_hit),"
            " coalesce(sum(tokens_in) filter (where not cache_hit), 0)"
            " from plans.llm_calls where run_id = %s",
            (run_id,),
        ).fetchone()

    # This test's own due follow-ups: tonight's plans' (an offline night), none messaged yet on `day`.
    run_night(params, AS_OF, "fr0", NightConfig(full_regeneration=True))
    with Loopback(lambda user, n, body: Reply(200, content=answer)) as server, connect(params) as conn:
        conn.execute("delete from plans.follow_up_messages")
        refresh_follow_ups(conn, day, "fr1")
        first = write_messages(conn, day, "fr1", router(server))
        assert first["messages"] > 0 and len(server.bodies) == first["messages"]
        hits, calls, tokens = spent(conn, "fr1")
        assert (hits, calls) == (0, first["messages"]) and tokens > 0
        # The night's messages are rolled back; the answers it paid for stay in the cache.
        conn.execute("delete from plans.follow_up_messages where as_of_date = %s", (day,))

    def refuse(user, n, body):
        raise AssertionError("a replayed night must not call the model for its follow-ups")

    with Loopback(refuse) as server, connect(params) as conn:
        again = write_messages(conn, day, "fr2", router(server))
        assert server.bodies == []
        assert again["messages"] == first["messages"]
        assert spent(conn, "fr2") == (first["messages"], 0, 0)
        providers = conn.execute(
            "select provider, count(*) from plans.follow_up_messages where as_of_date = %s group by 1", (day,)
        ).fetchall()
    assert providers == [("primary", first["messages"])]


def test_review_command_line_lists_and_decides(world, capsys):
    from plans.__main__ import main

    params, _, _ = world
    with connect(params) as conn:
        (plan_id,) = conn.execute(
            "select plan_id from plans.plan_versions where provider = 'primary' order by plan_id limit 1"
        ).fetchone()
        user = conn.execute(
            "select user_key from plans.plan_versions where plan_id = %s", (plan_id,)
        ).fetchone()[0]
        conn.execute(
            "insert into plans.review_queue (plan_id, user_key, as_of_date, queued_reason, deadline)"
            " values (%s, %s, %s, 'test', now() + interval '1 day') on conflict do nothing",
            (plan_id, user, AS_OF),
        )
    assert main(["review", "list"], params) == 0
    assert str(plan_id) in capsys.readouterr().out
    assert main(["review", "approve", str(plan_id), "--reviewer", "ana"], params) == 0
    assert "approved by ana" in capsys.readouterr().out
    assert main(["review", "reject", str(plan_id), "--reviewer", "ana"], params) == 2
    assert "already decided" in capsys.readouterr().err
