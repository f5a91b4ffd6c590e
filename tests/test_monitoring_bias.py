"""Bias on what was served (tonight's recommendation lists, yesterday's judged by today's interactions)
and on the published plans, aggregated inside a real PostgreSQL and turned into gate findings.

Every table is written set-based in SQL, shaped as in a night: `marts_build.recommendations_*`
(ml/ddl.sql), `plans.plan_versions` / `marts_build.user_plans` (plans/ddl.sql), and the dbt relations
`marts_build.dim_users` and `features.interaction_labels` as plain tables. 600 users: gender alternates
f/m by user number, age band and region cycle independently of it, so an unfairness planted on one
gender spreads evenly over the other attributes' groups and must show on gender alone.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from core.database import PgParams, connect
from monitoring import bias, gates, quality, served_bias
from tests.conftest import make_database

TONIGHT = date(2026, 3, 10)
YESTERDAY = TONIGHT - timedelta(days=1)
USERS = 600
FULL_TOP10 = sum(1 / math.log2(1 + r) for r in range(1, 11))


def _users(conn) -> None:
    conn.execute(
        "create table marts_build.dim_users (user_key text, gender text, age_band text, region text)"
    )
    conn.execute(
        """
        insert into marts_build.dim_users
        select format('u%%s', lpad(i::text, 4, '0')),
               case when i %% 2 = 0 then 'f' else 'm' end,
               (array['18-29', '30-44', '45-59', '60+'])[1 + (i / 2) %% 4],
               (array['north', 'south', 'east', 'west'])[1 + (i / 8) %% 4]
        from generate_series(0, %s - 1) as i
        """,
        (USERS,),
    )


def _serve(conn, table: str, day: date, length: int, f_ranks: tuple[int, int] | None = None) -> None:
    """Every user gets ranks 1..length; with `f_ranks` (lo, hi) the f users get only ranks lo..hi."""
    conn.execute(
        f"""
        insert into {table} (as_of_date, user_key, item_id, rank, score, model_name, model_version)
        select %(day)s, d.user_key, format('item%%s', r), r, 1.0 / r, 'kairoo-ranker', '7'
        from marts_build.dim_users as d
        cross join generate_series(1, %(length)s) as r
        where %(lo)s::int is null or d.gender <> 'f' or r between %(lo)s::int and %(hi)s::int
        """,
        {"day": day, "length": length, "lo": f_ranks[0] if f_ranks else None,
         "hi": f_ranks[1] if f_ranks else None},
    )  # fmt: skip


@pytest.fixture
def served_db(pg_server: PgParams, request) -> PgParams:
    params = make_database(pg_server, request.node.name)
    with connect(params) as conn:
        _users(conn)
    return params


def _failing(results: list[bias.BiasResult]) -> set[tuple[str, str, str, str]]:
    return {(r.surface, r.attribute, r.group_value, r.metric) for res in results for r in res.rows
            if r.passed is False}  # fmt: skip


def _row(results, surface, attribute, group, metric) -> bias.BiasRow:
    return next(
        r
        for res in results
        for r in res.rows
        if (r.surface, r.attribute, r.group_value, r.metric) == (surface, attribute, group, metric)
    )


def test_fair_served_lists_pass_and_the_rule_sees_every_attribute(served_db):
    with connect(served_db) as conn:
        _serve(conn, "marts_build.recommendations_jobs", TONIGHT, 20)
        _serve(conn, "marts_build.recommendations_modules", TONIGHT, 10)
    results = served_bias.served_lists(served_db, TONIGHT)
    assert [sorted({r.surface for r in res.rows}) for res in results] == [
        ["recommendations_jobs"],
        ["recommendations_modules"],
    ]
    assert all(res.passed for res in results), [res.reasons for res in results]
    ruled = {(r.attribute, r.metric) for res in results for r in res.rows if r.passed is not None}
    assert ruled == {
        (a, m) for a in ("gender", "age_band", "region") for m in ("full_list_share", "list_exposure")
    }
    jobs = _row(results, "recommendations_jobs", "gender", "f", "list_exposure")
    assert jobs.value == pytest.approx(1.0) and jobs.users == USERS // 2 and jobs.ratio == pytest.approx(1.0)
    assert _row(results, "recommendations_jobs", "region", "west", "items_served").value == pytest.approx(20)


def test_unfair_served_lists_are_flagged_on_the_right_group_and_only_warn(served_db):
    """Jobs: the f users get 3 items instead of 20. Modules: their top 5 were removed after ranking
    (ranks 6-10 left), as a filter that drops rows without re-ranking would do."""
    with connect(served_db) as conn:
        _serve(conn, "marts_build.recommendations_jobs", TONIGHT, 20, f_ranks=(1, 3))
        _serve(conn, "marts_build.recommendations_modules", TONIGHT, 10, f_ranks=(6, 10))
    results = served_bias.served_lists(served_db, TONIGHT)
    failing = _failing(results)
    assert failing == {
        (s, "gender", "f", m)
        for s in ("recommendations_jobs", "recommendations_modules")
        for m in ("full_list_share", "list_exposure")
    }, failing
    short = _row(results, "recommendations_jobs", "gender", "f", "list_exposure")
    expected = sum(1 / math.log2(1 + r) for r in (1, 2, 3)) / FULL_TOP10
    assert short.value == pytest.approx(expected) and short.ratio == pytest.approx(expected)
    assert short.threshold == 0.8 and short.users == USERS // 2
    pushed = _row(results, "recommendations_modules", "gender", "f", "list_exposure")
    expected = sum(1 / math.log2(1 + r) for r in range(6, 11)) / FULL_TOP10
    assert pushed.value == pytest.approx(expected)
    assert _row(results, "recommendations_modules", "gender", "f", "items_served").value == 5
    assert _row(results, "recommendations_jobs", "gender", "f", "full_list_share").ratio == 0

    for result in results:
        bias.record(served_db, "served-run", result)
    found, tested = gates.findings(served_db, "served-run", TONIGHT)
    assert found and {(f.gate, f.blocking) for f in found} == {("marts_gate", False)}
    assert any("recommendations_jobs/gender/list_exposure: f" in f.message for f in found)
    marts = gates.night_verdict(served_db, "served-run", TONIGHT, "marts_gate")
    assert marts.status == "warn" and not marts.blocked
    assert any(t.startswith("bias:recommendations_modules/") for t in tested["marts_gate"])
    assert gates.night_verdict(served_db, "served-run", TONIGHT, "challenger_gate").status == "pass"


def test_a_group_without_module_lists_counts_and_an_empty_night_is_not_evaluated(served_db):
    with connect(served_db) as conn:
        _serve(conn, "marts_build.recommendations_jobs", TONIGHT, 20)
        # Only the m users got modules: the f users were served jobs, so they count with an empty list.
        _serve(conn, "marts_build.recommendations_modules", TONIGHT, 10, f_ranks=(11, 11))
    results = served_bias.served_lists(served_db, TONIGHT)
    assert ("recommendations_modules", "gender", "f", "list_exposure") in _failing(results)
    assert _row(results, "recommendations_modules", "gender", "f", "list_exposure").value == 0
    assert not _failing(results[:1])
    empty = served_bias.served_lists(served_db, TONIGHT + timedelta(days=1))
    assert all(not res.rows and "nothing served" in res.reasons[0] for res in empty)


def _labels(conn, f_rank: int | None) -> None:
    """Today's interactions: every user applied (grade 3) to one item of yesterday's job list, the item
    at rank 1 + (user number / 2) % 3; the f users' at `f_rank` instead when given."""
    conn.execute(
        "create table features.interaction_labels"
        " (user_key text, item_type text, item_id text, event_date date, grade integer)"
    )
    conn.execute(
        """
        insert into features.interaction_labels
        select d.user_key, 'job',
               format('item%%s', case when d.gender = 'f' and %(f_rank)s::int is not null then %(f_rank)s::int
                                      else 1 + (substr(d.user_key, 2)::int / 2) %% 3 end),
               %(day)s, 3
        from marts_build.dim_users as d
        """,
        {"f_rank": f_rank, "day": TONIGHT},
    )


@pytest.mark.parametrize("f_rank", [None, 15])
def test_yesterdays_lists_judged_by_todays_interactions_by_group(served_db, f_rank):
    """Fair: every group's engaged-with item sits at ranks 1-3. Unfair: the f users' at rank 15, outside
    the top 10 (the model ranks what they want low)."""
    with connect(served_db) as conn:
        _serve(conn, "marts_build.recommendations_jobs", YESTERDAY, 20)
        _labels(conn, f_rank)
    results = served_bias.judged_lists(served_db, YESTERDAY, TONIGHT, TONIGHT, as_of=TONIGHT)
    jobs, modules = results
    assert not modules.rows and "not evaluated" in modules.reasons[0]  # no module list yesterday
    assert {r.surface for r in jobs.rows} == {"recommendations_jobs_judged"}
    # The per-group NDCG is the night's ranking quality (monitoring.quality), split by gender.
    (overall,) = [q for q in quality.served_quality(served_db, YESTERDAY, TONIGHT) if q.item_type == "job"]
    by_gender = [r for r in jobs.rows if r.attribute == "gender" and r.metric == "ndcg10"]
    assert sum(r.users for r in by_gender) == overall.users == USERS
    assert sum(r.value * r.users for r in by_gender) / USERS == pytest.approx(float(overall.ndcg10))
    if f_rank is None:
        assert jobs.passed, jobs.reasons
        assert _row(results, "recommendations_jobs_judged", "gender", "m", "selection_rate").value == 1
        return
    assert _failing(results) == {
        ("recommendations_jobs_judged", "gender", "f", m) for m in ("selection_rate", "exposure")
    }
    f = _row(results, "recommendations_jobs_judged", "gender", "f", "selection_rate")
    assert f.value == 0 and f.ratio == 0 and f.users == USERS // 2
    assert _row(results, "recommendations_jobs_judged", "gender", "f", "ndcg10").value == 0  # rank 15 > 10
    bias.record(served_db, "judged-run", jobs)
    verdict = gates.night_verdict(served_db, "judged-run", TONIGHT, "marts_gate")
    assert verdict.status == "warn" and any(
        "recommendations_jobs_judged/gender/" in w for w in verdict.warned
    )


def _plans(conn, hours_for: str | None = None, fallback_region: str | None = None) -> None:
    """Tonight's published plans: 5 modules of 4 h each, written by the LLM provider. `hours_for`: that
    age band's plans hold one module; `fallback_region`: 70% of that region's plans are offline fallbacks."""
    conn.execute(
        """
        insert into plans.plan_versions (user_key, as_of_date, plan, schema_version, inputs_fingerprint,
            provider, model, prompt_version, guardrail_passed, fallback_reason, status, run_id)
        select d.user_key, %(day)s,
               jsonb_build_object('modules', (
                   select jsonb_agg(jsonb_build_object('module_id', format('m%%s', m), 'hours', 4))
                   from generate_series(1, case when d.age_band = %(hours_for)s::text then 1 else 5 end)
                       as m)),
               'plan/1', 'fp', fb.provider, fb.provider, 'v1', true, fb.reason, 'auto_approved', 'plans-run'
        from marts_build.dim_users as d
        cross join lateral (
            select case when fallen then 'offline' else 'primary' end as provider,
                   case when fallen then 'primary: timeout' end as reason
            from (select d.region = %(region)s::text and substr(d.user_key, 2)::int %% 10 < 7 as fallen) as x
        ) as fb
        """,
        {"day": TONIGHT, "hours_for": hours_for, "region": fallback_region},
    )
    conn.execute(
        """
        insert into marts_build.user_plans (user_key, as_of_date, plan_id, plan, provider, status)
        select user_key, as_of_date, plan_id, plan, provider, status from plans.plan_versions
        """
    )


def test_fair_plans_pass_and_unfair_plans_warn_on_the_plans_gate(served_db, pg_server):
    with connect(served_db) as conn:
        _plans(conn)
    fair = served_bias.published_plans(served_db, TONIGHT)
    assert fair.passed, fair.reasons
    assert {r.metric for r in fair.rows} == {
        "hours_planned",
        "provider_share",
        "fallback_share",
        "modules_offered",
    }
    assert {r.metric for r in fair.rows if r.passed is not None} == {"hours_planned", "provider_share"}
    assert _row([fair], "plans", "gender", "f", "hours_planned").value == 20
    assert _row([fair], "plans", "region", "south", "fallback_share").value == 0

    unfair_db = make_database(pg_server, "served_bias_unfair_plans")
    with connect(unfair_db) as conn:
        _users(conn)
        _plans(conn, hours_for="60+", fallback_region="south")
    unfair = served_bias.published_plans(unfair_db, TONIGHT)
    assert _failing([unfair]) == {("plans", "age_band", "60+", "hours_planned"),
                                  ("plans", "region", "south", "provider_share")}  # fmt: skip
    assert any(r.startswith("plans: age_band=60+ hours_planned 4.000 is 0.20 of") for r in unfair.reasons)
    hours = _row([unfair], "plans", "age_band", "60+", "hours_planned")
    assert hours.value == 4 and hours.ratio == pytest.approx(0.2) and hours.users == USERS // 4
    south = _row([unfair], "plans", "region", "south", "fallback_share")
    # Reported (lower is better: no four-fifths ratio); its complement, provider_share, is ruled.
    assert south.value == pytest.approx(0.7, abs=0.01) and south.passed is None
    assert _row([unfair], "plans", "region", "south", "provider_share").ratio == pytest.approx(0.3, abs=0.01)
    # Modules offered are reported only: hours already rule the offer.
    assert _row([unfair], "plans", "age_band", "60+", "modules_offered").passed is None

    bias.record(unfair_db, "plans-run", unfair)
    verdict = gates.night_verdict(unfair_db, "plans-run", TONIGHT, "plans_gate")
    # A bias ratio warns: the plans are held only by an error-level anomaly or a critical drift on them.
    assert verdict.status == "warn" and not verdict.blocked and verdict.allows
    assert any("plans/region/provider_share: south" in w for w in verdict.warned), verdict.warned
    assert any("plans/age_band/hours_planned: 60+" in w for w in verdict.warned), verdict.warned
    assert gates.night_verdict(unfair_db, "plans-run", TONIGHT, "challenger_gate").status == "pass"
    # A night whose plans did not run tonight is not judged on last night's table.
    assert not served_bias.published_plans(unfair_db, TONIGHT + timedelta(days=1)).rows


def test_every_bias_surface_has_an_explicit_gate():
    assert gates._bias_gate("challenger_jobs") == ("challenger_gate", True)
    assert gates._bias_gate("plans") == ("plans_gate", False)
    assert gates._bias_gate("recommendations_modules_judged") == ("marts_gate", False)
    with pytest.raises(ValueError, match="no gate"):
        gates._bias_gate("something_new")
