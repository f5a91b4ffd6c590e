"""Human approval: the review queue's decisions, and the distance that decides when none is needed.

A plan waits in `plans.review_queue` when its provider's policy asks for approval and it differs much
from the user's last approved plan (`plan_distance`), or when it is the first LLM plan of a user.
Reviewers (the boards' review page, or `python -m plans review ...`) only record decisions in the queue
(the `kairoo_reviewer` role may update nothing else); the next night honours them (`plans.night`):

- approve: the plan becomes the user's plan;
- reject: the user keeps their previous plan, and a fresh plan is written when their inputs change;
- edit: the edited plan (validated as `plans.schema.Plan`) becomes the user's plan, provider `human`;
- pin (`pin`): the plan stays the user's plan, never regenerated, until `unpin`.

A pending plan past its deadline is replaced by the offline plan (status `expired_fallback`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from core.database import PgParams, connect
from plans.schema import Plan

Decision = Literal["approve", "reject", "edit"]
_STATUS = {"approve": "approved", "reject": "rejected", "edit": "edited"}


class ReviewError(ValueError):
    """A decision that cannot be recorded (unknown plan, already decided, invalid edited plan)."""


def plan_distance(new: dict, old: dict | None) -> float:
    """0 = same modules and roles, 1 = nothing in common: 1 - mean Jaccard similarity of both id sets."""
    if old is None:
        return 1.0

    def ids(plan: dict, part: str, key: str) -> set[str]:
        return {item[key] for item in plan.get(part, [])}

    def jaccard(a: set, b: set) -> float:
        return 1.0 if not a and not b else len(a & b) / len(a | b)

    modules = jaccard(ids(new, "modules", "module_id"), ids(old, "modules", "module_id"))
    roles = jaccard(ids(new, "target_roles", "job_id"), ids(old, "target_roles", "job_id"))
    return round(1.0 - (modules + roles) / 2, 4)


def pending(params: PgParams) -> list[dict]:
    """Plans waiting for a decision, oldest deadline first (the review screen's list)."""
    with connect(params) as conn:
        cur = conn.execute(
            """
            select q.plan_id, q.user_key, q.as_of_date, q.queued_reason, q.previous_plan_id, q.deadline,
                   v.provider, v.model, v.plan
            from plans.review_queue as q
            inner join plans.plan_versions as v using (plan_id)
            where q.status = 'pending' and q.applied_at is null
            order by q.deadline, q.plan_id
            """
        )
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def decide(
    params: PgParams,
    plan_id: int,
    decision: Decision | str,  # checked at run time (the boards pass a plain str)
    reviewer: str,
    edited_plan: dict | None = None,
    reason: str | None = None,
) -> dict:
    """Record a reviewer's decision on a queued plan; the next night honours it. Returns the queue row."""
    if decision not in _STATUS:
        raise ReviewError(f"decision must be one of {sorted(_STATUS)}, got {decision!r}")
    if not reviewer or not reviewer.strip():
        raise ReviewError("a decision needs the reviewer's name")
    payload = None
    if decision == "edit":
        if edited_plan is None:
            raise ReviewError("an edit needs the edited plan")
        try:
            payload = Plan.model_validate(edited_plan).model_dump_json()
        except ValueError as exc:
            raise ReviewError(f"plan {plan_id}: the edited plan is not a valid plan: {exc}") from exc
    with connect(params) as conn:
        row = conn.execute(
            """
            update plans.review_queue
            set status = %s, reviewer = %s, decided_at = %s, edited_plan = %s::jsonb, decision_reason = %s
            where plan_id = %s and status = 'pending'
            returning plan_id, user_key, status, reviewer, decided_at
            """,
            (_STATUS[decision], reviewer.strip(), datetime.now(UTC), payload, reason, plan_id),
        ).fetchone()
        if row is None:
            exists = conn.execute(
                "select status from plans.review_queue where plan_id = %s", (plan_id,)
            ).fetchone()
            if exists is None:
                raise ReviewError(f"plan {plan_id} is not in the review queue")
            raise ReviewError(f"plan {plan_id} was already decided ({exists[0]})")
    return dict(zip(("plan_id", "user_key", "status", "reviewer", "decided_at"), row, strict=True))


def pin(params: PgParams, plan_id: int, reviewer: str, reason: str | None = None) -> None:
    """Keep this plan as the user's plan (no regeneration) until `unpin`."""
    with connect(params) as conn:
        found = conn.execute(
            "select user_key from plans.plan_versions where plan_id = %s", (plan_id,)
        ).fetchone()
        if found is None:
            raise ReviewError(f"plan {plan_id} does not exist")
        conn.execute(
            """
            insert into plans.pins (user_key, plan_id, pinned_by, reason) values (%s, %s, %s, %s)
            on conflict (user_key) do update
            set plan_id = excluded.plan_id, pinned_by = excluded.pinned_by, reason = excluded.reason,
                pinned_at = now()
            """,
            (found[0], plan_id, reviewer, reason),
        )


def unpin(params: PgParams, user_key: str) -> bool:
    with connect(params) as conn:
        return conn.execute("delete from plans.pins where user_key = %s", (user_key,)).rowcount > 0
