"""What the bias of served lists and plans costs a night at tier M, inside PostgreSQL.

On a throw-away embedded PostgreSQL it synthesizes, in SQL, the tables `monitoring.served_bias` reads at
M-tier cardinalities: `marts_build.dim_users` (100k users), tonight's and yesterday's
`marts_build.recommendations_jobs` / `_modules` (100k users x 20 ranks each: 2M rows per table and day,
8M in all), today's `features.interaction_labels` (10% of users, 3 items each per item type, half of
them in yesterday's list) and 100k published plans of 6 modules. Then it times, each on its own:

- served_s: tonight's lists, both item types (full top k, list exposure, items served);
- judged_s: yesterday's lists judged by today's interactions, both item types;
- plans_s: the published plans (hours, provider share, modules, fallback share).

Prints ONE JSON line with the row counts, the seconds and the machine's load average.

    .venv/bin/python benchmarks/bench_served_bias.py            # ~2-4 min on 2 cores
    .venv/bin/python benchmarks/bench_served_bias.py --users 10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TONIGHT = date(2026, 3, 22)
YESTERDAY = TONIGHT - timedelta(days=1)

# Statements one by one: a parameterised execute holds a single statement.
USERS_SQL = """
insert into marts_build.dim_users
select format('u%%s', i),
       (array['f', 'm', 'x'])[1 + abs(hashtext('g' || i)) %% 3],
       (array['18-29', '30-44', '45-59', '60+'])[1 + abs(hashtext('a' || i)) %% 4],
       (array['north', 'south', 'east', 'west'])[1 + abs(hashtext('r' || i)) %% 4]
from generate_series(1, %(users)s) as i
"""

SERVED_SQL = """
insert into {table} (as_of_date, user_key, item_id, rank, score, model_name, model_version)
select %(day)s, format('u%%s', i), format('item%%s', (i * 7 + r * 13) %% 20000), r, 1.0 / r,
       'kairoo-ranker', '7'
from generate_series(1, %(users)s) as i
cross join generate_series(1, %(ranks)s) as r
"""

LABELS_SQL = """
insert into features.interaction_labels
select format('u%%s', i), t.item_type,
       -- half of them an item of yesterday's list (rank 1..20), half an item it did not hold
       case when j %% 2 = 0 then format('item%%s', (i * 7 + (1 + (i + j) %% 20) * 13) %% 20000)
            else format('other%%s', i * 3 + j) end,
       %(day)s, 1 + (i + j) %% 3
from generate_series(1, %(users)s, 10) as i
cross join generate_series(1, 3) as j
cross join (values ('job'), ('module')) as t (item_type)
"""

PLANS_SQL = """
insert into plans.plan_versions (user_key, as_of_date, plan, schema_version, inputs_fingerprint, provider,
    model, prompt_version, guardrail_passed, fallback_reason, status, run_id)
select format('u%%s', i), %(day)s,
       jsonb_build_object('modules', (select jsonb_agg(jsonb_build_object('module_id', format('m%%s', m),
           'title', format('Module %%s', m), 'week', m, 'hours', 2 + (i + m) %% 5))
           from generate_series(1, 6) as m)),
       'plan/1', 'fp', case when i %% 20 = 0 then 'offline' else 'primary' end, 'm', 'v1', true,
       case when i %% 20 = 0 then 'primary: timeout' end, 'auto_approved', 'bench'
from generate_series(1, %(users)s) as i
"""
PUBLISH_SQL = """
insert into marts_build.user_plans (user_key, as_of_date, plan_id, plan, provider, status)
select user_key, as_of_date, plan_id, plan, provider, status from plans.plan_versions
"""


def log(message: str) -> None:
    print(f"[bench_served_bias {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(fn):
    began = time.perf_counter()
    value = fn()
    return value, round(time.perf_counter() - began, 2)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--ranks", type=int, default=20)
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="kb-sb-", dir="/tmp"))  # short: the socket path has a limit
    from core.database import (
        PgParams,
        analyze,
        bootstrap,
        connect,
        ensure_database,
        start_embedded,
        stop_embedded,
    )
    from monitoring import served_bias

    out: dict = {"bench": "served_bias", "users": args.users, "ranks": args.ranks}
    try:
        server = start_embedded(state / "pg", outlive_process=False)
        params = PgParams(server.host, server.port, server.user, server.password, "bench_served_bias")
        ensure_database(params)
        bootstrap(params)
        args_sql = {"users": args.users, "ranks": args.ranks}
        began = time.perf_counter()
        with connect(params) as conn:
            conn.execute(
                "create table marts_build.dim_users (user_key text, gender text, age_band text, region text)"
            )
            conn.execute(
                "create table features.interaction_labels"
                " (user_key text, item_type text, item_id text, event_date date, grade integer)"
            )
            conn.execute(USERS_SQL, args_sql)
            for table in served_bias.TABLES.values():
                for day in (YESTERDAY, TONIGHT):
                    conn.execute(SERVED_SQL.format(table=table), {**args_sql, "day": day})
            conn.execute(LABELS_SQL, {**args_sql, "day": TONIGHT})
            conn.execute(PLANS_SQL, {**args_sql, "day": TONIGHT})
            conn.execute(PUBLISH_SQL)
        analyze(params, ["marts_build.dim_users", *served_bias.TABLES.values(), "features.interaction_labels",
                         "plans.plan_versions", "marts_build.user_plans"])  # fmt: skip
        out["load_s"] = round(time.perf_counter() - began, 1)
        with connect(params) as conn:
            out["served_rows"] = sum(
                conn.execute(f"select count(*) from {t}").fetchone()[0] for t in served_bias.TABLES.values()
            )
            out["label_rows"] = conn.execute("select count(*) from features.interaction_labels").fetchone()[0]
        log(f"loaded {out['served_rows']} served rows in {out['load_s']} s")
        out["load_avg_before"] = [round(x, 2) for x in os.getloadavg()]
        served, out["served_s"] = timed(lambda: served_bias.served_lists(params, TONIGHT))
        judged, out["judged_s"] = timed(
            lambda: served_bias.judged_lists(params, YESTERDAY, TONIGHT, TONIGHT, TONIGHT)
        )
        plans, out["plans_s"] = timed(lambda: served_bias.published_plans(params, TONIGHT))
        out["load_avg_after"] = [round(x, 2) for x in os.getloadavg()]
        out["bias_rows"] = sum(len(r.rows) for r in [*served, *judged, plans])
        out["judged_users_jobs"] = next(
            r.users for r in judged[0].rows if r.attribute == "gender" and r.group_value == "f"
        )
        out["failed"] = sum(r.passed is False for res in [*served, *judged, plans] for r in res.rows)
    finally:
        stop_embedded(state / "pg")
        shutil.rmtree(state, ignore_errors=True)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
