"""What `make demo` prints about plans: counts by provider and status, and one example plan."""

from __future__ import annotations

import json


def print_plans(params, out=print) -> dict:
    """Print tonight's published plans (counts, the queue, follow-ups) and one example; returns the counts."""
    from core.database import connect
    from plans.night import scalar

    with connect(params) as conn:
        if not scalar(conn, "select to_regclass('marts.user_plans')"):
            out("plans: none published yet (marts.user_plans does not exist)")
            return {}
        counts = conn.execute(
            "select provider, status, count(*) from marts.user_plans group by 1, 2 order by 1, 2"
        ).fetchall()
        queue = scalar(conn, "select count(*) from plans.review_queue where status = 'pending'")
        follow_ups = dict(conn.execute("select status, count(*) from plans.follow_ups group by 1").fetchall())
        example = conn.execute(
            "select user_key, plan from marts.user_plans order by jsonb_array_length(plan -> 'modules') desc,"
            " user_key limit 1"
        ).fetchone()
    total = sum(n for _, _, n in counts)
    mix = ", ".join(f"{p}/{s}: {n}" for p, s, n in counts)
    out(f"plans: {total} published ({mix}); {queue} awaiting review")
    out(f"follow-ups: {follow_ups}")
    if example:
        user_key, plan = example
        out(f"example plan for user {user_key[:12]}…: {plan['summary']}")
        for m in plan["modules"]:
            out(f"  week {m['week']}: {m['title']} ({m['hours']:g} h) [{m['module_id']}]")
        for f in plan["follow_ups"]:
            out(f"  follow-up {f['kind']} due {f['due_date']}: {f['message']}")
        out("  " + json.dumps({"target_roles": plan["target_roles"]}, ensure_ascii=False)[:300])
    return {"total": total, "queue": queue, "by_provider_status": [list(c) for c in counts]}
