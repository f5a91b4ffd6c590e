"""Which planning input limits plan quality (issue #13): the offline planner re-run with one input at a time
swapped for the generator's latent truth, scored by `plans.evaluation` exactly as `bench_plans` scores it.

Evaluation-side only: the truth is substituted here, never in the night. It reuses the state folder of one
`bench_plans.py --skip-throughput --state DIR` run (the warehouse of that night and its oracle), so each
variant costs seconds, not a night:

    .venv/bin/python benchmarks/plan_diagnostic.py --state /tmp/kb-plans-world

Inputs a variant can swap (one letter each, combined freely):

- T  target occupation: the user's true target instead of the one inferred from tonight's recommendations
- P  proficiency: the user's true proficiency instead of the observed one (resume, HRIS role)
- G  gaps: every gap toward the target instead of the top `InputConfig.top_gaps`
- C  pool: the whole catalogue (what the oracle chooses from) instead of the modules teaching the top gaps
- W  weights: the true need (latent distinctive weight x (1 - true proficiency), every skill) as gap weights:
     with T, P, G and C this is the oracle's own objective, so the row measures what is left (the planner's
     rules: in-progress first, recommended bonus)

A variant that swaps nothing but still goes through this script's Python gap builder ("rebuilt") checks
the builder against the SQL one (`plans.inputs.load_contexts`, "planner"): both rows should agree.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import defaultdict
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VARIANTS = ["", "T", "P", "G", "C", "TP", "TG", "GC", "TPG", "TGC", "PGC", "TPGC", "TPGCW"]


@dataclasses.dataclass
class Observed:
    """What the warehouse knows (the planner's side), keyed by pseudonymized user key."""

    weights: dict[str, dict[str, float]]  # soc -> skill -> distinctive weight
    user_skills: dict[str, dict[str, float]]  # user -> skill -> observed weight
    module_skills: dict[str, set[str]]
    modules: dict[str, tuple[str, str, float]]  # module -> (title, level, hours)
    skill_names: dict[str, str]


def load_observed(conn) -> Observed:
    weights: dict[str, dict[str, float]] = defaultdict(dict)
    for soc, skill, weight in conn.execute(
        "select soc_code, skill_id, distinctive_weight from intermediate.int_occupation_skill_weights"
    ):
        weights[soc][skill] = weight
    users: dict[str, dict[str, float]] = defaultdict(dict)
    for user, skill, weight in conn.execute("select user_key, skill_id, weight from features.user_skills"):
        users[user][skill] = weight
    mskills: dict[str, set[str]] = defaultdict(set)
    for module, skill in conn.execute("select module_id, skill_id from features.module_skills"):
        mskills[module].add(skill)
    modules = {
        m: (t, lv, float(h))
        for m, t, lv, h in conn.execute(
            "select module_id, title, module_level, duration_hours::float8"
            " from marts_build.dim_learning_modules where duration_hours > 0"
        )
    }
    names = dict(conn.execute("select skill_id, skill_name from intermediate.int_skill_vocabulary"))
    return Observed(dict(weights), dict(users), dict(mskills), modules, names)


def rebuild(ctx, swap: str, obs: Observed, truth, user_num: int, skill_index: dict[str, int], inputs):
    """A copy of the planner's context with the inputs named in `swap` replaced by the truth."""
    from plans.inputs import GapFact, ModuleFact

    world = truth.world
    target = world.occ_soc[world.u_target[user_num]] if "T" in swap else ctx.target_soc_code
    dense = world.prof_dense()

    def proficiency(skill: str) -> float:
        if "P" in swap:
            i = skill_index.get(skill)
            return float(dense[user_num, i]) / 255 if i is not None else 0.0
        return min(obs.user_skills.get(ctx.user_key, {}).get(skill, 0.0), inputs.claimed_proficiency)

    weights: dict[str, float] = {}
    if "W" in swap:
        occ = int(world.u_target[user_num]) if "T" in swap else _occ_of(world, target)
        if occ is not None:
            for skill, i in skill_index.items():
                need = float(world.occ_w[occ, i]) * (1 - proficiency(skill))
                if need > 0:
                    weights[skill] = need
    elif target is not None:
        for skill, weight in obs.weights.get(target, {}).items():
            gap = weight * (1 - proficiency(skill))
            if gap > 0:
                weights[skill] = gap
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    if "G" not in swap and "W" not in swap:
        ranked = ranked[: inputs.top_gaps]
    gaps = [GapFact(s, obs.skill_names.get(s, s), w) for s, w in ranked]
    gap_ids = {g.skill_id for g in gaps}
    recommended = {m.module_id: m.recommended_rank for m in ctx.modules if m.recommended_rank is not None}
    modules = []
    for module_id, (title, level, hours) in sorted(obs.modules.items()):
        if module_id in ctx.completed:
            continue
        taught = tuple(sorted(obs.module_skills.get(module_id, set()) & gap_ids, key=lambda s: -weights[s]))
        if taught or module_id in recommended:
            modules.append(ModuleFact(module_id, title, level, hours, taught, recommended.get(module_id)))
    if "C" not in swap:
        # The planner's pool rule: each module's best place among the modules teaching one gap (by gap
        # weight per hour), then its gap weight per hour; plus the recommended ones.
        def per_hour(m) -> float:
            return sum(weights[s] for s in m.skills) / m.hours

        best_place: dict[str, int] = {}
        for skill in gap_ids:
            teaching = sorted(
                (m for m in modules if skill in m.skills), key=lambda m: (-per_hour(m), m.module_id)
            )
            for place, m in enumerate(teaching, 1):
                best_place[m.module_id] = min(best_place.get(m.module_id, place), place)
        ranked_modules = sorted(
            modules,
            key=lambda m: (
                best_place.get(m.module_id, 10**9),
                -per_hour(m),
                m.recommended_rank or 10**9,
                m.module_id,
            ),
        )
        keep = {m.module_id for m in ranked_modules[: inputs.candidate_modules]} | set(recommended)
        modules = [m for m in modules if m.module_id in keep]
    return dataclasses.replace(ctx, target_soc_code=target, gaps=gaps, modules=modules)


def _occ_of(world, soc: str | None) -> int | None:
    hits = [i for i, s in enumerate(world.occ_soc) if s == soc]
    return hits[0] if hits else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state", type=Path, required=True, help="state folder of a bench_plans run")
    parser.add_argument(
        "--as-of", type=date.fromisoformat, default=None, help="night (default: latest plans)"
    )
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help="comma-separated swaps (empty = rebuilt)"
    )
    args = parser.parse_args()
    from benchmarks.isolation import isolate_state

    isolate_state(args.state)
    from core.database import connect, warehouse_params
    from core.settings import get_settings
    from plans.evaluation import load_truth, score_plans
    from plans.inputs import InputConfig, load_contexts
    from plans.offline import PlannerConfig, choose_modules

    settings = get_settings()
    params = warehouse_params(settings)
    truth = load_truth(params, settings.state_dir / "oracle")
    planner, inputs = PlannerConfig(), InputConfig()
    with connect(params) as conn:
        as_of = args.as_of or conn.execute("select max(as_of_date) from marts_build.user_plans").fetchone()[0]
        night = conn.execute("select user_key from marts_build.user_plans where as_of_date = %s", (as_of,))
        keys = [r[0] for r in night]
        original = dict(
            conn.execute("select pseudonym, original from pii_vault.identifiers where kind = 'user'")
        )
        contexts = load_contexts(conn, keys, as_of, inputs)
        obs = load_observed(conn)
    names = {n.strip().lower(): i for i, n in enumerate(truth.world.skill_names)}
    skill_index = {
        s: names[n.strip().lower()] for s, n in obs.skill_names.items() if n.strip().lower() in names
    }
    users = sorted(keys, key=lambda k: original[k])

    def score(make) -> dict:
        plans = []
        for key in users:
            ctx = contexts.get(key)
            chosen = [m.module_id for m in choose_modules(make(ctx), planner)] if ctx is not None else []
            plans.append((original[key], chosen, planner.hours_budget))
        r = score_plans(truth, plans)
        return {"users": r.users, "closed": r.planned, "oracle": r.oracle, "random": r.random,
                "vs_oracle": r.vs_oracle, "vs_random": r.vs_random}  # fmt: skip

    rows = {"planner": score(lambda ctx: ctx)}
    for swap in args.variants.split(","):
        rows[swap or "rebuilt"] = score(
            lambda ctx, swap=swap: rebuild(
                ctx, swap, obs, truth, int(original[ctx.user_key][1:]), skill_index, inputs
            )
        )
    print(f"night {as_of}, {len(users)} users with a plan row, {len(contexts)} with a planning context")
    print(f"{'swap':8} {'closed':>7} {'oracle':>7} {'random':>7} {'x oracle':>9} {'x random':>9}")
    for name, r in rows.items():
        print(f"{name:8} {r['closed']:7.4f} {r['oracle']:7.4f} {r['random']:7.4f} {r['vs_oracle']:9.3f}"
              f" {r['vs_random']:9.3f}")  # fmt: skip
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
