"""One night of plans: honour the queue's decisions, plan the users whose inputs changed, check, approve,
store, follow up, and build the table the night publishes (`marts_build.user_plans`).

    report = run_night(params, as_of, run_id, NightConfig(), chain=providers_from_settings(settings))

Every user planned tonight ends with exactly one new row in `plans.plan_versions`: the provider's plan
when it passed the guardrails, else the offline plan with the reason (`fallback_reason`). Nothing that
failed a guardrail becomes a user's current plan. The published table holds each user's current plan:
their pinned plan, else their latest approved one.
"""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

import psycopg

from core.database import PgParams, connect
from plans.guardrails import GuardrailConfig, assemble, catalogue_from_context, check, covered_weight
from plans.inputs import InputConfig, PlanningContext, load_contexts
from plans.offline import PlannerConfig, plan_offline
from plans.review import plan_distance
from plans.router import (
    OFFLINE,
    POLICIES,
    Policy,
    Provider,
    Request,
    Result,
    Router,
    constant,
    fallback_counts,
    read_cache,
    write_cache,
    write_ledger,
)
from plans.schema import SCHEMA_VERSION, PlanDraft
from plans.selection import APPROVED, select_users

OFFLINE_VERSION = "offline-v2"  # v2: started modules compete with a bonus (issue #13)


@dataclass(frozen=True)
class NightConfig:
    """Typed configuration of a plans night (the Dagster asset exposes it as run config)."""

    provider: str = "offline"  # offline | llm (the router's chain, then offline)
    full_regeneration: bool = False
    weekly_summary_weekday: int = 0  # date.weekday() of the night that writes weekly summaries (0 = Monday)
    planner: PlannerConfig = field(default_factory=PlannerConfig)
    inputs: InputConfig = field(default_factory=InputConfig)
    guardrails: GuardrailConfig = field(default_factory=GuardrailConfig)
    review_hours: int = 36  # a queued plan not decided within this is replaced by the offline plan
    concurrency: int = 32
    rpm: int = 500
    tpm: int = 2_000_000
    night_envelope_usd: float | None = None  # None: the plan policy's

    def __post_init__(self) -> None:
        # Checked when the run starts, not at the end of a night whose plans would then be rolled back.
        if not 0 <= self.weekly_summary_weekday <= 6:
            raise ValueError(
                f"weekly_summary_weekday must be 0..6 (Monday..Sunday), got {self.weekly_summary_weekday}"
            )

    @property
    def config_version(self) -> str:
        """Changes when anything a plan depends on changes (a change re-plans everyone)."""
        return json.dumps(
            [SCHEMA_VERSION, OFFLINE_VERSION, POLICIES["plan"].prompt_version, asdict(self.planner),
             asdict(self.inputs)], sort_keys=True,
        )  # fmt: skip


@dataclass
class NightReport:
    as_of_date: str
    run_id: str
    users_with_recommendations: int = 0
    users_planned: int = 0
    unchanged: int = 0
    pinned: int = 0
    awaiting_review: int = 0
    provider_mix: dict = field(default_factory=dict)
    statuses: dict = field(default_factory=dict)
    fallbacks: dict = field(default_factory=dict)  # reason kind -> users
    llm_calls: int = 0
    cache_hits: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    envelope_usd: float = 0.0
    within_envelope: bool = True
    decisions_applied: dict = field(default_factory=dict)
    expired_to_offline: int = 0
    queue_length: int = 0
    published_rows: int = 0
    follow_ups: dict = field(default_factory=dict)
    weekly_summaries: dict = field(default_factory=dict)  # written, provider mix, fallbacks (plans.weekly)
    offline_p95_ms: float = 0.0
    seconds: float = 0.0


def run_night(
    params: PgParams,
    as_of: date,
    run_id: str,
    config: NightConfig | None = None,
    chain: list[Provider] | None = None,
) -> NightReport:
    """Run the plans stage for `as_of` (idempotent per run: a re-run replays from the cache)."""
    config = config or NightConfig()
    started = time.perf_counter()
    report = NightReport(as_of.isoformat(), run_id)
    policy = POLICIES["plan"]
    with connect(params) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('kairoo.plans'))")
        report.decisions_applied, rejected, honoured = apply_decisions(conn, run_id)
        expired = expire_pending(conn)
        # A rejected plan or one that timed out in the queue: tonight the user gets the offline plan.
        force_offline = expired | rejected
        selection = select_users(
            conn, as_of, config.config_version, config.inputs.top_jobs, config.full_regeneration
        )
        fingerprints = dict(selection.fingerprints)
        # A plan a reviewer approved or edited is the user's plan for tonight's inputs: it is not
        # replaced the night it is applied, and it stands until those inputs change again.
        for user_key in honoured:
            tonight = fingerprints.pop(user_key, None)
            if tonight is not None:
                conn.execute(
                    "update plans.plan_versions set inputs_fingerprint = %s"
                    " where user_key = %s and status = 'approved'",
                    (tonight, user_key),
                )
        for user_key in force_offline:
            fingerprints.setdefault(user_key, "")
        report.users_with_recommendations = selection.total
        report.unchanged, report.pinned = selection.unchanged, selection.pinned
        report.awaiting_review = selection.awaiting_review
        contexts = load_contexts(conn, sorted(fingerprints), as_of, config.inputs)
        previous = last_approved_plans(conn, list(contexts))
    # Offline plans for everyone: the provider of offline nights, the reference and fallback of LLM nights.
    offline: dict[str, PlanDraft] = {}
    timings = []
    for key, ctx in contexts.items():
        t = time.perf_counter()
        offline[key] = plan_offline(ctx, config.planner)
        timings.append((time.perf_counter() - t) * 1000)
    report.offline_p95_ms = round(sorted(timings)[int(0.95 * (len(timings) - 1))], 3) if timings else 0.0

    results: dict[str, Result]
    router = None
    if config.provider == "llm" and chain:
        routed = {k: c for k, c in contexts.items() if k not in force_offline}
        router, results = _route(params, routed, offline, config, chain, policy)
        for key in force_offline:
            reason = "review_deadline_passed" if key in expired else "rejected_by_reviewer"
            results[key] = Result(key, "plan", offline[key], OFFLINE, OFFLINE, fallback_reason=reason)
    else:
        results = {k: Result(k, "plan", offline[k], OFFLINE, OFFLINE) for k in contexts}

    rows, queue = [], []
    for key, ctx in contexts.items():
        res = results[key]
        plan, verdict = _final_verdict(cast(PlanDraft, res.answer), ctx, offline[key], config)
        if verdict and res.provider != OFFLINE:  # belt and braces: never store an unchecked provider plan
            res.fallback_reason = f"final_check: {'; '.join(verdict[:3])}"
            res.answer, res.provider, res.model = offline[key], OFFLINE, OFFLINE
            plan, verdict = _final_verdict(cast(PlanDraft, res.answer), ctx, offline[key], config)
        plan_json = plan.model_dump(mode="json") if plan is not None else res.answer.model_dump(mode="json")
        status, queued_reason = _approval(
            res, plan_json, previous.get(key), policy, bool(verdict), key in expired
        )
        rows.append((key, res, plan_json, verdict, status, fingerprints.get(key) or ""))
        if queued_reason:
            queue.append((key, queued_reason))

    with connect(params) as conn:
        conn.execute("select pg_advisory_xact_lock(hashtext('kairoo.plans'))")
        plan_ids = _store(conn, rows, as_of, run_id, policy)
        deadline_hours = config.review_hours
        for key, reason in queue:
            conn.execute(
                """
                insert into plans.review_queue (plan_id, user_key, as_of_date, queued_reason,
                    previous_plan_id, deadline)
                values (%s, %s, %s, %s, %s, now() + make_interval(hours => %s))
                """,
                (plan_ids[key], key, as_of, reason, (previous.get(key) or {}).get("plan_id"), deadline_hours),
            )
        if router is not None:
            write_ledger(conn, router.ledger, run_id, as_of)
            write_cache(conn, router)
        from plans.followups import refresh_follow_ups, write_messages

        report.follow_ups = refresh_follow_ups(conn, as_of, run_id)
        report.follow_ups.update(
            write_messages(conn, as_of, run_id, _task_router("follow_up", config, chain))
        )
        report.published_rows = build_user_plans(conn, as_of)
        from plans.weekly import write_weekly_summaries

        # After build_user_plans: a summary is written against the plan the user holds from tonight on.
        report.weekly_summaries = write_weekly_summaries(
            conn, as_of, run_id, config.weekly_summary_weekday, _task_router("weekly_summary", config, chain)
        )
        report.queue_length = scalar(
            conn, "select count(*) from plans.review_queue where status = 'pending' and applied_at is null"
        )

    report.users_planned = len(rows)
    report.expired_to_offline = len(expired)
    report.provider_mix = dict(Counter(r[1].provider for r in rows))
    report.statuses = dict(Counter(r[4] for r in rows))
    report.fallbacks = fallback_counts(r[1].fallback_reason for r in rows)
    if router is not None:
        report.llm_calls = sum(1 for a in router.ledger if not a.cache_hit)
        report.cache_hits = sum(1 for a in router.ledger if a.cache_hit)
        report.tokens_in = sum(a.tokens_in for a in router.ledger)
        report.tokens_out = sum(a.tokens_out for a in router.ledger)
        report.cost_usd = round(sum(a.cost_usd for a in router.ledger), 6)
        report.envelope_usd = router.budget.envelope
        report.within_envelope = router.budget.spent <= router.budget.envelope + 1e-9
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def scalar(conn: psycopg.Connection, sql: str, args: tuple = ()) -> Any:
    """The single value of a one-row, one-column query."""
    row = conn.execute(sql, args).fetchone()
    if row is None:
        raise RuntimeError(f"no row from: {sql.strip()[:80]}")
    return row[0]


def _task_router(task: str, config: NightConfig, chain) -> Router | None:
    """The router of a message task (follow-up, weekly summary) on LLM nights; None: the offline text."""
    if config.provider != "llm" or not chain:
        return None
    return Router(POLICIES[task], chain, concurrency=config.concurrency, rpm=config.rpm, tpm=config.tpm)


def _final_verdict(draft: PlanDraft, ctx: PlanningContext, offline_draft: PlanDraft, config: NightConfig):
    plan, schema_reasons = assemble(draft, ctx, config.planner.weekly_hours, config.planner.horizon_weeks)
    reasons = schema_reasons + check(
        draft, ctx, catalogue_from_context(ctx), config.planner.weekly_hours, config.planner.horizon_weeks,
        covered_weight(offline_draft.modules, ctx), config.guardrails,
    )  # fmt: skip
    return plan, reasons


def _approval(res: Result, plan: dict, previous: dict | None, policy: Policy, failed: bool, expired: bool):
    """(status, queued reason or None) of tonight's plan for one user."""
    if failed:
        return "rejected", None  # cannot happen for offline plans (grounded by construction); never published
    if res.provider == OFFLINE:
        return ("expired_fallback" if expired else "auto_approved"), None
    distance = plan_distance(plan, previous["plan"] if previous else None)
    if policy.approval == "always":
        return "pending_review", "policy: approval always required"
    if policy.approval == "never" or (previous is not None and distance <= policy.max_auto_distance):
        return "auto_approved", None
    if previous is None:
        return "pending_review", "first plan written by a model"
    return "pending_review", f"distance {distance:.2f} to the last approved plan > {policy.max_auto_distance}"


def _route(params, contexts, offline, config: NightConfig, chain, policy: Policy):
    from plans.privacy import leaks, scrub, vault_values
    from plans.prompts import plan_messages

    if config.night_envelope_usd is not None:
        from dataclasses import replace

        policy = replace(policy, night_envelope_usd=config.night_envelope_usd)
    with connect(params) as conn:
        vault = vault_values(conn, list(contexts))
    requests = []
    for key, ctx in contexts.items():
        values = vault.get(key, set())

        def validate(answer, ctx=ctx, values=values, key=key):
            _, schema_reasons = assemble(
                answer, ctx, config.planner.weekly_hours, config.planner.horizon_weeks
            )
            reasons = schema_reasons + check(
                answer, ctx, catalogue_from_context(ctx), config.planner.weekly_hours,
                config.planner.horizon_weeks, covered_weight(offline[key].modules, ctx), config.guardrails,
            )  # fmt: skip
            found = leaks(_texts(answer), values)
            return reasons + [f"privacy: answer carries {f}" for f in found]

        requests.append(
            Request("plan", key, plan_messages(ctx, config.planner, policy.context_token_budget, values),
                    PlanDraft, validate, constant(offline[key]), functools.partial(scrub, values=values))
        )  # fmt: skip
    with connect(params, autocommit=True) as lookup_conn:
        router = Router(
            policy, chain, concurrency=config.concurrency, rpm=config.rpm, tpm=config.tpm,
            lookup=lambda key: read_cache(lookup_conn, [key]).get(key),
        )  # fmt: skip
        router.cache = read_cache(lookup_conn, router.cache_keys(requests))
        results = router.run_sync(requests)
    return router, {r.user_key: r for r in results}


def _texts(draft: PlanDraft) -> str:
    """Every free text of a plan (what a leak could hide in); ids and numbers are checked by grounding."""
    parts = [draft.summary]
    parts += [r.title for r in draft.target_roles] + [m.title for m in draft.modules]
    parts += [g.skill_name for g in draft.skill_gaps] + [m.description for m in draft.milestones]
    parts += [f.message for f in draft.follow_ups]
    return "\n".join(parts)


def last_approved_plans(conn: psycopg.Connection, user_keys: list[str]) -> dict[str, dict]:
    rows = conn.execute(
        """
        select distinct on (user_key) user_key, plan_id, plan
        from plans.plan_versions
        where user_key = any(%s) and status = any(%s)
        order by user_key, plan_id desc
        """,
        (user_keys, list(APPROVED)),
    ).fetchall()
    return {u: {"plan_id": pid, "plan": plan} for u, pid, plan in rows}


def _store(conn: psycopg.Connection, rows, as_of: date, run_id: str, policy: Policy) -> dict[str, int]:
    """Insert tonight's plan versions; older approved plans of the same users become `superseded`."""
    approved_now = [key for key, _, _, _, status, _ in rows if status in APPROVED]
    conn.execute(
        "update plans.plan_versions set status = 'superseded' where user_key = any(%s) and status = any(%s)",
        (approved_now, list(APPROVED)),
    )
    # Ids drawn from the sequence up front, then one COPY: a night of 10k plans is one round trip, not 10k.
    ids_drawn = [
        r[0]
        for r in conn.execute(
            "select nextval('plans.plan_versions_plan_id_seq') from generate_series(1, %s)", (len(rows),)
        ).fetchall()
    ]
    ids = {}
    cols = (
        "plan_id, user_key, as_of_date, plan, schema_version, inputs_fingerprint, provider, model,"
        " prompt_version, tokens_in, tokens_out, cost_usd, guardrail_passed, guardrail_reasons,"
        " fallback_reason, status, run_id, approved_at"
    )
    with conn.cursor().copy(f"copy plans.plan_versions ({cols}) from stdin") as copy:
        for plan_id, row in zip(ids_drawn, rows, strict=True):
            key, res, plan_json, verdict, status, fingerprint = row
            prompt_version = OFFLINE_VERSION if res.provider == OFFLINE else policy.prompt_version
            copy.write_row(
                (plan_id, key, as_of, json.dumps(plan_json), SCHEMA_VERSION, fingerprint, res.provider,
                 res.model, prompt_version, res.tokens_in, res.tokens_out, round(res.cost_usd, 6),
                 not verdict, json.dumps(verdict or res.rejected_reasons), res.fallback_reason, status,
                 run_id, datetime.now(UTC) if status in APPROVED else None)
            )  # fmt: skip
            ids[key] = plan_id
    return ids


def apply_decisions(conn: psycopg.Connection, run_id: str) -> tuple[dict[str, int], set[str], set[str]]:
    """Honour the reviewers' decisions recorded since the last night (each exactly once).

    Returns the counts by decision, the users whose plan was rejected (they get the offline plan) and
    the users whose plan was approved or edited (that plan is theirs tonight).
    """
    decided = conn.execute(
        """
        select q.plan_id, q.user_key, q.status, q.edited_plan, q.reviewer, v.inputs_fingerprint, v.as_of_date
        from plans.review_queue as q
        inner join plans.plan_versions as v using (plan_id)
        where q.status <> 'pending' and q.applied_at is null
        order by q.decided_at, q.plan_id
        """
    ).fetchall()
    counts: Counter = Counter()
    rejected: set[str] = set()
    honoured: set[str] = set()
    for plan_id, user_key, status, edited, reviewer, fingerprint, plan_date in decided:
        if status in ("approved", "edited"):
            honoured.add(user_key)
            conn.execute(
                "update plans.plan_versions set status = 'superseded'"
                " where user_key = %s and status = any(%s)",
                (user_key, list(APPROVED)),
            )
        if status == "approved":
            conn.execute(
                "update plans.plan_versions set status = 'approved', approved_at = now() where plan_id = %s",
                (plan_id,),
            )
        elif status == "rejected":
            conn.execute("update plans.plan_versions set status = 'rejected' where plan_id = %s", (plan_id,))
            rejected.add(user_key)
        elif status == "edited":
            conn.execute(
                "update plans.plan_versions set status = 'superseded' where plan_id = %s", (plan_id,)
            )
            conn.execute(
                """
                insert into plans.plan_versions
                    (user_key, as_of_date, plan, schema_version, inputs_fingerprint, provider, model,
                        prompt_version,
                     guardrail_passed, guardrail_reasons, fallback_reason, status, run_id, approved_at)
                values (%s, %s, %s, %s, %s, 'human', %s, 'edit', true, '[]', null, 'approved', %s, now())
                """,
                (
                    user_key,
                    plan_date,
                    json.dumps(edited),
                    SCHEMA_VERSION,
                    fingerprint,
                    f"reviewer:{reviewer}",
                    run_id,
                ),
            )
        conn.execute("update plans.review_queue set applied_at = now() where plan_id = %s", (plan_id,))
        counts[status] += 1
    return dict(counts), rejected, honoured


def expire_pending(conn: psycopg.Connection) -> set[str]:
    """Users whose queued plan passed its deadline undecided: the plan is superseded, tonight goes offline."""
    rows = conn.execute(
        """
        update plans.review_queue
        set applied_at = now(), decision_reason = 'review deadline passed: replaced by the offline plan'
        where status = 'pending' and applied_at is null and deadline <= now()
        returning plan_id, user_key
        """
    ).fetchall()
    if rows:
        conn.execute(
            "update plans.plan_versions set status = 'superseded' where plan_id = any(%s)",
            ([r[0] for r in rows],),
        )
    return {r[1] for r in rows}


def build_user_plans(conn: psycopg.Connection, as_of: date) -> int:
    """marts_build.user_plans: each user's current plan (pinned, else latest approved), as of tonight."""
    conn.execute("delete from marts_build.user_plans")
    return conn.execute(
        """
        insert into marts_build.user_plans (user_key, as_of_date, plan_id, plan, provider, status,
            approved_at)
        select distinct on (v.user_key) v.user_key, %s, v.plan_id, v.plan, v.provider,
               case when pin.plan_id is not null then 'pinned' else v.status end, v.approved_at
        from plans.plan_versions as v
        left join plans.pins as pin on pin.user_key = v.user_key
        where (pin.plan_id = v.plan_id) or (pin.plan_id is null and v.status = any(%s))
        order by v.user_key, v.plan_id desc
        """,
        (as_of, list(APPROVED)),
    ).rowcount


AUDIT_SUITE = "plans_user_plans"


def audit_user_plans(conn: psycopg.Connection, run_id: str, partition_key: str | None) -> dict:
    """The audit of write-audit-publish, inside PostgreSQL: every cited id exists and its title matches the
    catalogue, every plan is schema-versioned and approved. Recorded in ops.quality_results."""
    checks = {
        "unknown_or_mistitled_jobs": """
            select count(*) from marts_build.user_plans as p
            cross join lateral jsonb_array_elements(p.plan -> 'target_roles') as r
            left join marts_build.dim_jobs as j on j.job_id = r ->> 'job_id'
            where j.job_id is null or lower(j.title) <> lower(r ->> 'title')""",
        "unknown_or_mistitled_modules": """
            select count(*) from marts_build.user_plans as p
            cross join lateral jsonb_array_elements(p.plan -> 'modules') as m
            left join marts_build.dim_learning_modules as d on d.module_id = m ->> 'module_id'
            where d.module_id is null or lower(d.title) <> lower(m ->> 'title')""",
        "unversioned_or_unapproved": """
            select count(*) from marts_build.user_plans
            where plan ->> 'schema_version' is null
               or status not in ('auto_approved', 'approved', 'expired_fallback', 'pinned')""",
    }
    failures = {name: scalar(conn, sql) for name, sql in checks.items()}
    evaluated = scalar(conn, "select count(*) from marts_build.user_plans")
    success = not any(failures.values())
    conn.execute(
        """
        insert into ops.quality_results (run_id, partition_key, suite, target, success, evaluated,
            failed, details)
        values (%s, %s, %s, 'marts_build.user_plans', %s, %s, %s, %s::jsonb)
        """,
        (
            run_id,
            partition_key,
            AUDIT_SUITE,
            success,
            evaluated,
            sum(failures.values()),
            json.dumps(failures),
        ),
    )
    return {"success": success, "evaluated": evaluated, **failures}
