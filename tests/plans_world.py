"""The planner's upstream tables, created from the dbt models' own YAML, filled with a seeded world.

Building the whole night (signals, dbt, ranking) costs minutes; the plans tests need only the tables the
planner reads. Their columns and types come from `dbt_project/models/**/<model>.yml` (contracted
`data_type`s where dbt declares them), so a renamed upstream column breaks these tests, not production.
The rows are drawn inside PostgreSQL (deterministic per seed) so 10,000 users load in about a second.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import psycopg
import yaml

MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models"
# model -> (schema, relation); the types of columns dbt does not declare are those the SQL produces.
UPSTREAM = {
    "dim_jobs": "marts_build",
    "dim_learning_modules": "marts_build",
    "fct_interactions": "marts_build",
    "module_skills": "features",
    "user_skill_gaps": "features",
    "user_skills": "features",
    "int_skill_vocabulary": "intermediate",
    "int_learning_progress": "intermediate",
    "int_occupation_skill_weights": "intermediate",
}
# Intermediate models document only some columns in YAML: their columns are those of the model's final
# select (tests/test_plans_core.py checks each name appears in the model's SQL).
INTERMEDIATE_COLUMNS = {
    "int_skill_vocabulary": [("skill_id", "text"), ("skill_name", "text"), ("skill_kind", "text"),
                             ("skill_name_norm", "text")],
    "int_learning_progress": [("user_key", "text"), ("module_id", "text"), ("started_date", "date"),
                              ("last_activity_date", "date"), ("max_progress_pct", "numeric"),
                              ("completed_date", "date"), ("status", "text")],
    "int_occupation_skill_weights": [("soc_code", "text"), ("skill_id", "text"), ("skill_kind", "text"),
                                     ("importance", "double precision"),
                                     ("distinctive_weight", "double precision")],
}  # fmt: skip


def model_columns(model: str) -> list[tuple[str, str]]:
    """(column, type) of a dbt model from its YAML (or its final select, for intermediate models)."""
    if model in INTERMEDIATE_COLUMNS:
        return INTERMEDIATE_COLUMNS[model]
    path = next(MODELS.rglob(f"{model}.yml"))
    doc = yaml.safe_load(path.read_text())
    (spec,) = [m for m in doc["models"] if m["name"] == model]
    out = []
    for col in spec["columns"]:
        out.append((col["name"], col.get("data_type") or "text"))
    return out


def create_upstream(conn: psycopg.Connection) -> None:
    for model, schema in UPSTREAM.items():
        cols = ", ".join(f'"{c}" {t}' for c, t in model_columns(model))
        conn.execute(f"drop table if exists {schema}.{model} cascade")
        conn.execute(f"create table {schema}.{model} ({cols})")


def seed_world(conn: psycopg.Connection, n_users: int, as_of: date, seed: int = 7) -> list[str]:
    """A seeded world of `n_users` planned users; returns their keys (u000001 ...)."""
    create_upstream(conn)
    conn.execute("delete from marts_build.recommendations_jobs")
    conn.execute("delete from marts_build.recommendations_modules")
    p = {"n": n_users, "d": as_of, "s": seed}
    # 80 skills, 20 occupations each needing 16 of them, 400 jobs, 300 modules teaching 1-3 skills.
    conn.execute(
        """
        insert into intermediate.int_skill_vocabulary (skill_id, skill_name, skill_kind, skill_name_norm)
        select format('2.A.%s', i), format('Skill %s', i), 'skill', format('skill %s', i)
        from generate_series(1, 80) as i
        """
    )
    conn.execute(
        """
        insert into marts_build.dim_jobs (job_id, title, company, category, job_level, soc_code,
                                          occupation_title, posted_date, skill_count, required_skill_count)
        select format('j%%s', lpad(i::text, 6, '0')), format('Role %%s of occupation %%s', i, i %% 20),
               'Acme', 'Category', 1 + i %% 5, format('15-%%s.00', lpad((i %% 20)::text, 4, '0')),
               format('Occupation %%s', i %% 20), %(d)s::date - 10, 12, 8
        from generate_series(0, 399) as i
        """,
        p,
    )
    conn.execute(
        """
        insert into marts_build.dim_learning_modules
            (module_id, title, provider, module_level, duration_hours, first_seen_date, skill_count)
        select format('m%%s', lpad(i::text, 5, '0')), format('Module %%s: skill %%s', i, 1 + i %% 80),
            'Kairoo',
               (array['beginner', 'intermediate', 'advanced'])[1 + (i / 80) %% 3],
               2 + abs(hashtext(i::text || %(s)s::text)) %% 9, %(d)s::date - 30, 1 + i %% 3
        from generate_series(0, 299) as i
        """,
        p,
    )
    conn.execute(
        """
        insert into features.module_skills (module_id, skill_id)
        select format('m%%s', lpad(i::text, 5, '0')), format('2.A.%%s', 1 + (i + k * 7) %% 80)
        from generate_series(0, 299) as i, generate_series(0, 2) as k
        where k < 1 + i %% 3
        """,
        p,
    )
    conn.execute(
        """
        create temporary table _users on commit drop as
        select format('u%%s', lpad(u::text, 6, '0')) as user_key, u,
               abs(hashtext(u::text || 'occ' || %(s)s::text)) %% 20 as occ
        from generate_series(1, %(n)s) as u
        """,
        p,
    )
    conn.execute(
        """
        insert into features.user_skill_gaps (user_key, target_soc_code, skill_id, gap_weight)
        select user_key, format('15-%%s.00', lpad(((occ + t) %% 20)::text, 4, '0')),
               format('2.A.%%s', 1 + ((occ + t) * 4 + k * 3) %% 80),
               round((0.05 + (abs(hashtext(user_key || k::text || t::text || %(s)s::text)) %% 900) /
                   1000.0)::numeric,
                     3)::float8
        from _users, generate_series(0, 1) as t, generate_series(0, 15) as k
        """,
        p,
    )
    # Each occupation needs 16 skills, the first most distinctively; users claim a few of their target's.
    conn.execute(
        """
        insert into intermediate.int_occupation_skill_weights
            (soc_code, skill_id, skill_kind, importance, distinctive_weight)
        select format('15-%%s.00', lpad(s::text, 4, '0')), format('2.A.%%s', 1 + (s * 4 + k * 3) %% 80),
            'skill', 0.8, round((1 - k / 20.0)::numeric, 3)::float8
        from generate_series(0, 19) as s, generate_series(0, 15) as k
        """,
        p,
    )
    conn.execute(
        """
        insert into features.user_skills (user_key, skill_id, weight)
        select user_key, format('2.A.%%s', 1 + (occ * 4 + k * 3) %% 80), case when k = 0 then 1.0 else 0.6 end
        from _users, generate_series(0, 15, 5) as k
        """,
        p,
    )
    conn.execute(
        """
        insert into marts_build.recommendations_jobs (as_of_date, user_key, item_id, rank, score, model_name,
                                                      model_version)
        select %(d)s, user_key, format('j%%s', lpad(((occ + 20 * r) %% 400)::text, 6, '0')), r + 1,
               1.0 / (r + 1), 'baseline-skill-overlap', 'retrieval_score'
        from _users, generate_series(0, 9) as r
        """,
        p,
    )
    conn.execute(
        """
        insert into marts_build.recommendations_modules (as_of_date, user_key, item_id, rank, score,
            model_name,
                                                         model_version)
        select %(d)s, user_key, format('m%%s', lpad(((occ * 4 + 13 * r) %% 300)::text, 5, '0')), r + 1,
               1.0 / (r + 1), 'baseline-skill-overlap', 'retrieval_score'
        from _users, generate_series(0, 9) as r
        """,
        p,
    )
    conn.execute(
        """
        insert into intermediate.int_learning_progress (user_key, module_id, started_date, last_activity_date,
                                                        max_progress_pct, completed_date, status)
        select user_key, format('m%%s', lpad(((occ * 4 + u) %% 300)::text, 5, '0')), %(d)s::date - 20,
               %(d)s::date - 3, case when u %% 2 = 0 then 100 else 40 end,
               case when u %% 2 = 0 then %(d)s::date - 3 end,
               case when u %% 2 = 0 then 'completed' else 'in_progress' end
        from _users where u %% 3 = 0
        """,
        p,
    )
    for schema, table in [(s, m) for m, s in UPSTREAM.items()]:
        conn.execute(f"analyze {schema}.{table}")
    return [r[0] for r in conn.execute("select user_key from _users order by 1").fetchall()]
