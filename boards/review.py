"""What a reviewer needs to decide on a queued plan: the plan, the user's last approved plan, and a
readable difference between the two (what was added, removed or changed), plus the exact JSON diff.

Reads go through the `kairoo_reviewer` role (it may read plans.plan_versions and plans.review_queue);
decisions go through the plans stage's own API (`plans.review.decide`), never through SQL here.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any

import psycopg


@dataclass(frozen=True)
class PlanDiff:
    """The changes from the last approved plan to the queued one, in the reviewer's terms."""

    first_plan: bool  # the user has no approved plan yet
    roles_added: list[str] = field(default_factory=list)
    roles_removed: list[str] = field(default_factory=list)
    modules_added: list[str] = field(default_factory=list)
    modules_removed: list[str] = field(default_factory=list)
    modules_moved: list[str] = field(default_factory=list)  # same module, another week
    changed: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # field -> (before, after)

    def lines(self) -> list[str]:
        """Bullet points for the page."""
        if self.first_plan:
            return ["First plan of this user: nothing approved to compare with."]
        out = [f"Target role added: {r}" for r in self.roles_added]
        out += [f"Target role removed: {r}" for r in self.roles_removed]
        out += [f"Module added: {m}" for m in self.modules_added]
        out += [f"Module removed: {m}" for m in self.modules_removed]
        out += [f"Module moved: {m}" for m in self.modules_moved]
        out += [f"{name}: {before!r} → {after!r}" for name, (before, after) in self.changed.items()]
        return out or ["Same roles, modules and settings as the last approved plan."]


def _roles(plan: dict) -> dict[str, str]:
    return {r["job_id"]: f"{r.get('title', '')} ({r['job_id']})" for r in plan.get("target_roles", [])}


def _modules(plan: dict) -> dict[str, tuple[str, int | None]]:
    return {
        m["module_id"]: (f"{m.get('title', '')} ({m['module_id']})", m.get("week"))
        for m in plan.get("modules", [])
    }


def plan_diff(new: dict, old: dict | None) -> PlanDiff:
    """What changed from `old` (the last approved plan, or None) to `new`."""
    if old is None:
        return PlanDiff(first_plan=True)
    new_roles, old_roles = _roles(new), _roles(old)
    new_mods, old_mods = _modules(new), _modules(old)
    moved = [
        f"{new_mods[m][0]}: week {old_mods[m][1]} → {new_mods[m][1]}"
        for m in sorted(new_mods.keys() & old_mods.keys())
        if new_mods[m][1] != old_mods[m][1]
    ]
    changed = {
        key: (old.get(key), new.get(key))
        for key in ("weekly_hours", "horizon_weeks", "summary")
        if old.get(key) != new.get(key)
    }
    return PlanDiff(
        first_plan=False,
        roles_added=[new_roles[r] for r in sorted(new_roles.keys() - old_roles.keys())],
        roles_removed=[old_roles[r] for r in sorted(old_roles.keys() - new_roles.keys())],
        modules_added=[new_mods[m][0] for m in sorted(new_mods.keys() - old_mods.keys())],
        modules_removed=[old_mods[m][0] for m in sorted(old_mods.keys() - new_mods.keys())],
        modules_moved=moved,
        changed=changed,
    )


def pretty(plan: dict | None) -> str:
    """A plan as stable, indented JSON (what the reviewer edits)."""
    return "" if plan is None else json.dumps(plan, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def text_diff(new: dict, old: dict | None) -> str:
    """The unified diff of the two plans' JSON (old → new)."""
    return "".join(
        difflib.unified_diff(
            pretty(old).splitlines(keepends=True),
            pretty(new).splitlines(keepends=True),
            fromfile="last approved plan",
            tofile="queued plan",
        )
    )


def previous_plan(conn: psycopg.Connection, previous_plan_id: int | None) -> dict | None:
    """The plan the queued one would replace (the user's last approved plan), if any."""
    if previous_plan_id is None:
        return None
    row = conn.execute(
        "select plan from plans.plan_versions where plan_id = %s", (previous_plan_id,)
    ).fetchone()
    return None if row is None else row[0]


def parse_edit(text: str) -> dict:
    """The reviewer's edited plan as JSON; the plans API validates it as a Plan."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise ValueError(f"the edited plan is not JSON ({where}): {exc.msg}") from exc
    if not isinstance(value, dict):
        raise ValueError("the edited plan must be a JSON object")
    return value
