"""Follow-ups: the actions of each user's current plan, marked every night from their events.

- open       created from the current plan's `follow_ups` (once per plan)
- done       `apply_after_module`: the user applied to that job since the plan's night
             (`marts_build.fct_interactions`, event `job_apply`); `check_in`: the user had module activity
             since the plan's night (no check-in is needed)
- overdue    still open after its due date
- cancelled  the plan it belongs to is no longer the user's current plan

All of it is set-based SQL over the night's users; messages for the follow-ups that fell due tonight are
written by `write_messages` (task `follow_up`: the same router, guardrails and privacy as plans, with
the follow-up's own text as the offline answer).
"""

from __future__ import annotations

import functools
from datetime import date
from typing import cast

import psycopg
from pydantic import BaseModel, ConfigDict

CURRENT = ("auto_approved", "approved", "expired_fallback")


class FollowUpMessage(BaseModel):
    """The model's structured answer for a follow-up message."""

    model_config = ConfigDict(extra="forbid")
    message: str


def refresh_follow_ups(conn: psycopg.Connection, as_of: date, run_id: str) -> dict[str, int]:
    """Create, close and mark follow-ups for tonight; returns the counts of each transition."""
    p = {"d": as_of, "current": list(CURRENT)}
    cancelled = conn.execute(
        """
        update plans.follow_ups as f
        set status = 'cancelled', status_changed_on = %(d)s, status_reason = 'plan superseded'
        from plans.plan_versions as v
        where v.plan_id = f.plan_id and f.status in ('open', 'overdue') and not (v.status = any(%(current)s))
          and not exists (select from plans.pins as pin where pin.plan_id = f.plan_id)
        """,
        p,
    ).rowcount
    created = conn.execute(
        """
        insert into plans.follow_ups (user_key, plan_id, kind, job_id, module_id, due_date, message)
        select v.user_key, v.plan_id, f ->> 'kind', f ->> 'job_id', f ->> 'module_id', (f ->>
            'due_date')::date,
               f ->> 'message'
        from plans.plan_versions as v
        cross join lateral jsonb_array_elements(v.plan -> 'follow_ups') as f
        where (v.status = any(%(current)s) or exists (select from plans.pins as pin where pin.plan_id =
            v.plan_id))
          and not exists (select from plans.follow_ups as old where old.plan_id = v.plan_id)
        """,
        p,
    ).rowcount
    done = conn.execute(
        """
        update plans.follow_ups as f
        set status = 'done', status_changed_on = %(d)s,
            status_reason = case f.kind when 'apply_after_module' then 'applied to the job'
                                        else 'module activity since the plan' end
        from plans.plan_versions as v
        where v.plan_id = f.plan_id and f.status in ('open', 'overdue')
          and exists (
              select from marts_build.fct_interactions as e
              where e.user_key = f.user_key and e.event_date > v.as_of_date and e.event_date <= %(d)s
                and ((f.kind = 'apply_after_module' and e.event_type = 'job_apply' and e.item_id = f.job_id)
                  or (f.kind = 'check_in' and e.item_type = 'module'))
          )
        """,
        p,
    ).rowcount
    overdue = conn.execute(
        """
        update plans.follow_ups
        set status = 'overdue', status_changed_on = %(d)s, status_reason = 'past its due date'
        where status = 'open' and due_date < %(d)s
        """,
        p,
    ).rowcount
    return {"created": created, "done": done, "overdue": overdue, "cancelled": cancelled}


def due_tonight(conn: psycopg.Connection, as_of: date) -> list[tuple]:
    """Open or overdue follow-ups due by tonight without a message: (id, user, kind, job, module, text)."""
    return conn.execute(
        """
        select f.follow_up_id, f.user_key, f.kind, f.job_id, f.module_id, f.message
        from plans.follow_ups as f
        where f.status in ('open', 'overdue') and f.due_date <= %s
          and not exists (select from plans.follow_up_messages as m where m.follow_up_id = f.follow_up_id)
        order by f.follow_up_id
        """,
        (as_of,),
    ).fetchall()


def write_messages(conn: psycopg.Connection, as_of: date, run_id: str, router=None) -> dict[str, int]:
    """Messages for the follow-ups due tonight: through `router` (task follow_up) or their offline text."""
    from plans.guardrails import MAX_MESSAGE, check_text
    from plans.privacy import leaks, scrub, vault_values
    from plans.prompts import follow_up_messages
    from plans.router import OFFLINE, Request, Result, constant, run_recorded

    due = due_tonight(conn, as_of)
    if not due:
        return {"messages": 0}
    vault = vault_values(conn, sorted({d[1] for d in due})) if router is not None else {}
    requests, results = [], []
    for fid, user, kind, job, module, text in due:
        fallback = FollowUpMessage(message=text)

        def validate(answer, user=user):
            return check_text("follow-up", answer.message, MAX_MESSAGE) + [
                f"privacy: answer carries {f}" for f in leaks(answer.message, vault.get(user, set()))
            ]

        facts = {"follow_up_id": fid, "job_id": job, "module_id": module, "planned_text": text}
        values = vault.get(user, set())
        requests.append(
            Request("follow_up", user, follow_up_messages(user, kind, facts, values),
                    FollowUpMessage, validate, constant(fallback), functools.partial(scrub, values=values))
        )  # fmt: skip
    if router is None:
        results = [Result(r.user_key, "follow_up", r.fallback(), OFFLINE, OFFLINE) for r in requests]
    else:
        results = run_recorded(conn, router, requests, run_id, as_of)
    with conn.cursor() as cur:
        cur.executemany(
            "insert into plans.follow_up_messages (follow_up_id, as_of_date, message, provider,"
            " fallback_reason, run_id) values (%s, %s, %s, %s, %s, %s) on conflict do nothing",
            [
                (d[0], as_of, cast(FollowUpMessage, r.answer).message, r.provider, r.fallback_reason, run_id)
                for d, r in zip(due, results, strict=True)
            ],
        )
    return {"messages": len(results)}
