"""`python -m plans review list|approve|reject|edit|pin|unpin`: the review queue from a terminal.

    python -m plans review list
    python -m plans review approve 42 --reviewer ana
    python -m plans review reject 43 --reviewer ana --reason "targets a role the user left"
    python -m plans review edit 44 --reviewer ana --file plan44.json --reason "shorter first week"
    python -m plans review pin 45 --reviewer ana
    python -m plans review unpin <user_key>

Decisions are recorded in plans.review_queue (who, when, why); the next night honours them. The warehouse
is the one core.settings names (KAIROO_DATABASE_URL, else the embedded server of the state folder).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv: list[str] | None = None, params=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plans")
    sub = parser.add_subparsers(dest="command", required=True)
    review = sub.add_parser("review", help="list and decide queued plans").add_subparsers(
        dest="action", required=True
    )
    review.add_parser("list", help="plans waiting for a decision")
    for action in ("approve", "reject", "edit", "pin"):
        p = review.add_parser(action)
        p.add_argument("plan_id", type=int)
        p.add_argument("--reviewer", required=True)
        p.add_argument("--reason")
        if action == "edit":
            p.add_argument(
                "--file", type=Path, required=True, help="the edited plan (JSON, plans.schema.Plan)"
            )
    unpin = review.add_parser("unpin")
    unpin.add_argument("user_key")
    args = parser.parse_args(argv)

    from core.database import warehouse_params
    from plans.review import ReviewError, decide, pending, pin
    from plans.review import unpin as unpin_user

    params = params or warehouse_params()
    try:
        if args.action == "list":
            rows = pending(params)
            for r in rows:
                print(
                    f"{r['plan_id']}\t{r['user_key']}\t{r['as_of_date']}\t{r['provider']}/{r['model']}"
                    f"\tdeadline {r['deadline']:%Y-%m-%d %H:%M}\t{r['queued_reason']}"
                )
            print(f"{len(rows)} plan(s) waiting", file=sys.stderr)
        elif args.action == "pin":
            pin(params, args.plan_id, args.reviewer, args.reason)
            print(f"plan {args.plan_id} pinned")
        elif args.action == "unpin":
            print("unpinned" if unpin_user(params, args.user_key) else "no pinned plan for this user")
        else:
            edited = None
            if args.action == "edit":
                try:
                    edited = json.loads(args.file.read_text())
                except (OSError, json.JSONDecodeError) as exc:
                    raise ReviewError(f"{args.file}: cannot read the edited plan: {exc}") from exc
            row = decide(params, args.plan_id, args.action, args.reviewer, edited, args.reason)
            when = f"{row['decided_at']:%Y-%m-%d %H:%M}"
            print(f"plan {row['plan_id']} {row['status']} by {row['reviewer']} at {when}")
    except ReviewError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
