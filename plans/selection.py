"""Which users get a new plan tonight: those whose inputs changed since their last approved plan.

The nightly cost then follows change, not the user count. A user's inputs fingerprint is an md5 over
tonight's top recommended jobs, all their skill gaps and their skills (weights rounded to 3 decimals, so
float noise is no change: the planner weighs gaps from both) and their module progress, plus the planner's
configuration version (new constraints are a change for everyone). It is computed inside PostgreSQL for
every user with recommendations tonight and compared with the `inputs_fingerprint` of the user's last
approved plan.

Never selected: users with a pinned plan (a human override) and users whose plan waits in the review
queue before its deadline. `full_regeneration=True` selects every user with recommendations (a config
switch: a new prompt or planner version that must reach everyone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import psycopg

APPROVED = ("auto_approved", "approved", "expired_fallback")


@dataclass(frozen=True)
class Selection:
    """Tonight's users to plan, with their fingerprints, and how many were skipped and why."""

    fingerprints: dict[str, str]  # user_key -> inputs fingerprint, for the users to plan
    unchanged: int
    pinned: int
    awaiting_review: int
    total: int


def select_users(
    conn: psycopg.Connection,
    as_of: date,
    config_version: str,
    top_jobs: int = 5,
    full_regeneration: bool = False,
) -> Selection:
    """Users to plan tonight (see the module docstring)."""
    rows = conn.execute(
        """
        with tonight as (
            select user_key, string_agg(item_id, ',' order by rank) as jobs
            from marts_build.recommendations_jobs
            where as_of_date = %(d)s and rank <= %(k)s
            group by user_key
        ),
        gaps as (
            select g.user_key,
                   string_agg(g.target_soc_code || ':' || g.skill_id || ':' ||
                       round(g.gap_weight::numeric, 3),
                              ',' order by g.target_soc_code, g.skill_id) as gaps
            from features.user_skill_gaps as g
            inner join tonight using (user_key)
            group by g.user_key
        ),
        skills as (
            select s.user_key,
                   string_agg(s.skill_id || ':' || round(s.weight::numeric, 3), ',' order by s.skill_id)
                       as skills
            from features.user_skills as s
            inner join tonight using (user_key)
            group by s.user_key
        ),
        progress as (
            select p.user_key, string_agg(p.module_id || ':' || p.status, ',' order by p.module_id) as
                progress
            from intermediate.int_learning_progress as p
            inner join tonight using (user_key)
            group by p.user_key
        ),
        last_approved as (
            select distinct on (user_key) user_key, inputs_fingerprint
            from plans.plan_versions
            where status = any(%(approved)s)
            order by user_key, plan_id desc
        ),
        waiting as (
            select distinct user_key from plans.review_queue
            where status = 'pending' and deadline > now()
        )
        select t.user_key,
               md5(concat_ws('|', %(v)s::text, t.jobs, g.gaps, sk.skills, p.progress)) as fingerprint,
               la.inputs_fingerprint,
               pin.user_key is not null as pinned,
               w.user_key is not null as waiting
        from tonight as t
        left join gaps as g using (user_key)
        left join skills as sk using (user_key)
        left join progress as p using (user_key)
        left join last_approved as la using (user_key)
        left join plans.pins as pin using (user_key)
        left join waiting as w using (user_key)
        order by t.user_key
        """,
        {"d": as_of, "k": top_jobs, "v": config_version, "approved": list(APPROVED)},
    ).fetchall()
    chosen, unchanged, pinned, waiting = {}, 0, 0, 0
    for user_key, fingerprint, last, is_pinned, is_waiting in rows:
        if is_pinned:
            pinned += 1
        elif is_waiting:
            waiting += 1
        elif not full_regeneration and last == fingerprint:
            unchanged += 1
        else:
            chosen[user_key] = fingerprint
    return Selection(chosen, unchanged, pinned, waiting, len(rows))
