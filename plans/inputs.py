"""Tonight's planning context per user, read inside PostgreSQL in a few set-based queries.

What a plan is built from (all pseudonymized; names and contacts never leave the vault):

- tonight's job recommendations, titles, occupations: `marts_build.recommendations_jobs`,
  `marts_build.dim_jobs` (ranking, dbt)
- tonight's module recommendations: `marts_build.recommendations_modules` (ranking)
- the occupations a user aims at (those of jobs they saved or applied to): `features.user_skill_gaps` (dbt)
- how distinctively each occupation needs each O*NET element (every rated element):
  `intermediate.int_occupation_skill_weights` (dbt), skill names from `intermediate.int_skill_vocabulary`
- what the user can already do (resume claims, roles held): `features.user_skills` (dbt)
- the catalogue (titles, levels, hours, skills taught): `marts_build.dim_learning_modules`,
  `features.module_skills` (dbt)
- progress (started, in progress, completed modules): `intermediate.int_learning_progress` (dbt, folded
  from the event marts)

The target occupation is the one of the best-ranked recommended job the user aims at; else the one they aim
at with the largest gap; else, for a user who saved or applied to nothing yet, the occupation of their
best-ranked recommended job (a plan toward it beats no plan). A gap toward the target is the element's
distinctive weight x (1 - the user's proficiency), the proficiency being the evidence's weight capped at
`claimed_proficiency`: a skill listed on a resume or implied by a role held is a claim, not mastery, and a
module on a skill the target relies on most still moves the user toward it.

The users of one night are put in a temporary table once; each query joins it, so the cost follows the
number of users planned tonight, not the size of the history. `INPUT_COLUMNS` lists every upstream column
read here; a test checks them against the dbt models' YAML so a rename upstream fails loudly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import psycopg

INPUT_COLUMNS: dict[str, tuple[str, ...]] = {
    "dim_jobs": ("job_id", "title", "soc_code", "occupation_title"),
    "dim_learning_modules": ("module_id", "title", "module_level", "duration_hours"),
    "module_skills": ("module_id", "skill_id"),
    "user_skill_gaps": ("user_key", "target_soc_code", "gap_weight"),
    "user_skills": ("user_key", "skill_id", "weight"),
    "int_skill_vocabulary": ("skill_id", "skill_name"),
    "int_learning_progress": ("user_key", "module_id", "status", "last_activity_date"),
    "int_occupation_skill_weights": ("soc_code", "skill_id", "distinctive_weight"),
}


@dataclass(frozen=True)
class InputConfig:
    """How much of each input a plan looks at (bounds the work and the prompt per user)."""

    top_jobs: int = 5  # target roles come from tonight's top recommendations
    top_gaps: int = 60  # ranked gaps toward the target occupation (see docs/architecture.md)
    # The most a resume claim or a role held says about a skill (1 = mastered: no gap left). At 1, the
    # planner spent its hours on what users list least, not on what their target needs most.
    claimed_proficiency: float = 0.5
    candidate_modules: int = 60  # catalogue modules teaching those gaps (plus recommended ones)
    recommended_modules: int = 10
    # Users per candidate-module query: the query ranks every (user, gap, module) row, so its sorts grow
    # with the users it sees. All 100k users of tier M at once spilled more than 15 GB of temporary files
    # (the first M night with 60 gaps per user filled the disk); per batch they stay bounded.
    module_batch_users: int = 10_000


@dataclass(frozen=True)
class JobFact:
    job_id: str
    title: str
    rank: int
    soc_code: str | None


@dataclass(frozen=True)
class GapFact:
    skill_id: str
    skill_name: str
    gap_weight: float


@dataclass(frozen=True)
class ModuleFact:
    module_id: str
    title: str
    level: str  # beginner | intermediate | advanced
    hours: float
    skills: tuple[str, ...]  # the user's gap skills (tonight's top gaps) this module teaches
    recommended_rank: int | None  # rank in tonight's module recommendations, when recommended


@dataclass
class PlanningContext:
    """Everything a planner may use for one user tonight (and nothing else: see plans.privacy)."""

    user_key: str
    as_of_date: date
    target_soc_code: str | None
    jobs: list[JobFact] = field(default_factory=list)
    gaps: list[GapFact] = field(default_factory=list)
    modules: list[ModuleFact] = field(default_factory=list)
    completed: set[str] = field(default_factory=set)
    in_progress: set[str] = field(default_factory=set)
    last_activity_date: date | None = None


def stage_users(conn: psycopg.Connection, user_keys: list[str], table: str = "_plan_users") -> None:
    """Put tonight's users in a temporary table (dropped at commit of the caller's transaction)."""
    conn.execute(f"drop table if exists {table}")
    conn.execute(f"create temporary table {table} (user_key text primary key) on commit drop")
    with conn.cursor().copy(f"copy {table} (user_key) from stdin") as copy:
        for key in user_keys:
            copy.write_row((key,))
    conn.execute(f"analyze {table}")


def load_contexts(
    conn: psycopg.Connection, user_keys: list[str], as_of: date, config: InputConfig | None = None
) -> dict[str, PlanningContext]:
    """Planning contexts for `user_keys` as of tonight. Users without recommendations tonight get none."""
    config = config or InputConfig()
    stage_users(conn, user_keys)
    contexts: dict[str, PlanningContext] = {}
    jobs = conn.execute(
        """
        select r.user_key, r.item_id, r.rank, j.title, j.soc_code
        from marts_build.recommendations_jobs as r
        inner join _plan_users using (user_key)
        inner join marts_build.dim_jobs as j on j.job_id = r.item_id
        where r.as_of_date = %(d)s and r.rank <= %(k)s
        order by r.user_key, r.rank
        """,
        {"d": as_of, "k": config.top_jobs},
    ).fetchall()
    for user_key, job_id, rank, title, soc in jobs:
        ctx = contexts.get(user_key)
        if ctx is None:
            ctx = contexts[user_key] = PlanningContext(user_key, as_of, None)
        ctx.jobs.append(JobFact(job_id, title, rank, soc))

    # The target occupation (see the module docstring): occupations the user aims at first, by the rank of
    # their best recommended job tonight, then by total gap; then those of tonight's recommended jobs.
    targets = conn.execute(
        """
        with aimed as (
            select g.user_key, g.target_soc_code as soc_code, sum(g.gap_weight) as total_gap
            from features.user_skill_gaps as g
            inner join _plan_users using (user_key)
            group by g.user_key, g.target_soc_code
        ),
        job_rank as (
            select r.user_key, j.soc_code, min(r.rank) as best_rank
            from marts_build.recommendations_jobs as r
            inner join _plan_users using (user_key)
            inner join marts_build.dim_jobs as j on j.job_id = r.item_id
            where r.as_of_date = %(d)s and r.rank <= %(k)s and j.soc_code is not null
            group by r.user_key, j.soc_code
        ),
        candidates as (
            select coalesce(a.user_key, jr.user_key) as user_key,
                   coalesce(a.soc_code, jr.soc_code) as soc_code,
                   a.user_key is not null as aimed, a.total_gap, jr.best_rank
            from aimed as a
            full join job_rank as jr on jr.user_key = a.user_key and jr.soc_code = a.soc_code
        )
        select distinct on (user_key) user_key, soc_code
        from candidates
        order by user_key, aimed desc, best_rank asc nulls last, total_gap desc nulls last, soc_code
        """,
        {"d": as_of, "k": config.top_jobs},
    ).fetchall()
    conn.execute("create temporary table _plan_targets (user_key text primary key, soc text) on commit drop")
    with conn.cursor().copy("copy _plan_targets (user_key, soc) from stdin") as copy:
        for user_key, soc in targets:
            if user_key in contexts:
                contexts[user_key].target_soc_code = soc
                copy.write_row((user_key, soc))
    conn.execute("analyze _plan_targets")

    gaps = conn.execute(
        """
        with weighted as (
            select t.user_key, w.skill_id,
                   w.distinctive_weight * (1 - least(coalesce(u.weight, 0), %(claimed)s)) as gap_weight
            from _plan_targets as t
            inner join intermediate.int_occupation_skill_weights as w on w.soc_code = t.soc
            left join features.user_skills as u on u.user_key = t.user_key and u.skill_id = w.skill_id
        ),
        ranked as (
            select w.*, row_number() over (partition by w.user_key order by w.gap_weight desc,
                w.skill_id) as n
            from weighted as w
            where w.gap_weight > 0
        )
        select ranked.user_key, ranked.skill_id, coalesce(v.skill_name, ranked.skill_id), ranked.gap_weight
        from ranked
        left join intermediate.int_skill_vocabulary as v on v.skill_id = ranked.skill_id
        where ranked.n <= %(k)s
        order by ranked.user_key, ranked.n
        """,
        {"k": config.top_gaps, "claimed": config.claimed_proficiency},
    ).fetchall()
    conn.execute(
        "create temporary table _plan_gaps (user_key text, skill_id text, gap_weight float8) on commit drop"
    )
    with conn.cursor().copy("copy _plan_gaps (user_key, skill_id, gap_weight) from stdin") as copy:
        for user_key, skill_id, name, weight in gaps:
            contexts[user_key].gaps.append(GapFact(skill_id, name, float(weight)))
            copy.write_row((user_key, skill_id, weight))
    conn.execute("create index on _plan_gaps (user_key)")
    conn.execute("analyze _plan_gaps")

    progress = conn.execute(
        """
        select p.user_key, p.module_id, p.status, p.last_activity_date
        from intermediate.int_learning_progress as p
        inner join _plan_users using (user_key)
        """
    ).fetchall()
    for user_key, module_id, status, last in progress:
        ctx = contexts.get(user_key)
        if ctx is None:
            continue
        (ctx.completed if status == "completed" else ctx.in_progress).add(module_id)
        if last is not None and (ctx.last_activity_date is None or last > ctx.last_activity_date):
            ctx.last_activity_date = last

    # Candidate modules: those teaching the user's top gaps (by gap weight covered per hour), plus tonight's
    # recommended modules; never a module the user already completed.
    query = """
        with covering as (
            select g.user_key, s.module_id, array_agg(g.skill_id order by g.gap_weight desc) as skills,
                   sum(g.gap_weight) as covered
            from _plan_gaps as g
            inner join features.module_skills as s on s.skill_id = g.skill_id
            where g.user_key = any(%(users)s::text[])
            group by g.user_key, s.module_id
        ),
        -- Each module's best place among the modules teaching one of the user's gaps, by gap weight per hour:
        -- a pool of the best few for every gap, not dozens of modules on the same heaviest gap (the greedy
        -- takes one of those, then needs the modules on the next gaps). The (user, gap, module) rows are
        -- those `covering` aggregated, unnested from its skills: joining gaps to module skills to
        -- `covering` again cost a 1.2 M x 1.2 M merge join at 10,000 users (a fifth of this query).
        skill_ranks as (
            select c.user_key, c.module_id, row_number() over (
                partition by c.user_key, t.skill_id order by c.covered / m.duration_hours desc, c.module_id
            ) as skill_rank
            from covering as c
            cross join lateral unnest(c.skills) as t (skill_id)
            inner join marts_build.dim_learning_modules as m on m.module_id = c.module_id
            where m.duration_hours > 0
        ),
        best_place as (
            select user_key, module_id, min(skill_rank) as best_rank
            from skill_ranks
            group by user_key, module_id
        ),
        recommended as (
            select r.user_key, r.item_id as module_id, r.rank
            from marts_build.recommendations_modules as r
            where r.as_of_date = %(d)s and r.rank <= %(rk)s and r.user_key = any(%(users)s::text[])
        ),
        pooled as (
            select coalesce(c.user_key, r.user_key) as user_key, coalesce(c.module_id, r.module_id) as
                module_id,
                   coalesce(c.skills, '{}') as skills, coalesce(c.covered, 0) as covered, r.rank, b.best_rank
            from covering as c
            left join best_place as b on b.user_key = c.user_key and b.module_id = c.module_id
            full join recommended as r on r.user_key = c.user_key and r.module_id = c.module_id
        ),
        ranked as (
            -- By gap weight per hour, the planner's own criterion: ranked by weight alone, the pool kept
            -- the long modules and left out short ones the planner would have taken first.
            select p.*, m.title, m.module_level, m.duration_hours, row_number() over (
                partition by p.user_key
                order by p.best_rank asc nulls last, p.covered / m.duration_hours desc,
                    p.rank asc nulls last, p.module_id
            ) as n
            from pooled as p
            inner join marts_build.dim_learning_modules as m on m.module_id = p.module_id
            where m.duration_hours > 0 and not exists (
                select from intermediate.int_learning_progress as done
                where done.user_key = p.user_key and done.module_id = p.module_id and done.status =
                    'completed'
            )
        )
        select ranked.user_key, ranked.module_id, ranked.title, ranked.module_level,
               ranked.duration_hours::float8, ranked.skills, ranked.rank
        from ranked
        where ranked.n <= %(k)s or ranked.rank is not null
        order by ranked.user_key, ranked.n
        """
    keys = sorted(contexts)
    modules = []
    for start in range(0, len(keys), config.module_batch_users):  # same rows per user as one query
        batch = keys[start : start + config.module_batch_users]
        binds = {"d": as_of, "rk": config.recommended_modules, "k": config.candidate_modules, "users": batch}
        modules += conn.execute(query, binds).fetchall()
    for user_key, module_id, title, level, hours, skills, rec_rank in modules:
        ctx = contexts.get(user_key)
        if ctx is None or level not in ("beginner", "intermediate", "advanced") or not hours or hours <= 0:
            continue  # a module without a known level or duration cannot be scheduled
        ctx.modules.append(ModuleFact(module_id, title, level, float(hours), tuple(skills), rec_rank))
    conn.execute("drop table if exists _plan_targets, _plan_gaps")
    return contexts


@dataclass(frozen=True)
class Catalogue:
    """Catalogue facts the guardrails check repeated titles against (only the ids a plan may cite)."""

    jobs: dict[str, str]  # job_id -> title
    modules: dict[str, tuple[str, str, float]]  # module_id -> (title, level, hours)
    skills: dict[str, str]  # skill_id -> name


def load_catalogue(conn: psycopg.Connection, job_ids: set[str], module_ids: set[str], skill_ids: set[str]):
    """The catalogue rows for the given ids (ids not found are simply absent: the guardrails say so)."""
    jobs: dict[str, str] = dict(
        conn.execute(
            "select job_id, title from marts_build.dim_jobs where job_id = any(%s)", (list(job_ids),)
        ).fetchall()
    )
    modules = {
        r[0]: (r[1], r[2], float(r[3] or 0))
        for r in conn.execute(
            "select module_id, title, module_level, duration_hours from marts_build.dim_learning_modules"
            " where module_id = any(%s)",
            (list(module_ids),),
        ).fetchall()
    }
    skills: dict[str, str] = dict(
        conn.execute(
            "select skill_id, skill_name from intermediate.int_skill_vocabulary where skill_id = any(%s)",
            (list(skill_ids),),
        ).fetchall()
    )
    return Catalogue(jobs, modules, skills)
