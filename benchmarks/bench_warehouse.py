"""Warehouse benchmark: does the nightly dbt build cost follow the day's data, not history?

At the M tier (100k users, 20k jobs, 1,500 modules, 400 occupations, 1M events a day) it measures, on a
throw-away embedded PostgreSQL (or a scratch database on KAIROO_DATABASE_URL's server):

- `day1_s`: the nightly `dbt build` (models and data tests; here the unit tests run too, as they always
  have in this benchmark, although the nightly step excludes them) of the first night whose window
  `[day - lookback_days, day]` is full (day 4: 4M events in the window, no history before it);
- `day30_s`: the same nightly build on day 30, with 26 more days of history behind the window;
- `ratio` = day30_s / day1_s (goal <= 1.1: history must not make a night dearer);
- `full_refresh_s`: `dbt build --full-refresh` over 30 days (30M events), what a non-incremental design
  would pay every night, and `full_refresh_ratio` = full_refresh_s / day30_s (goal <= 5;
  `--full-refresh-timeout` caps it, and then the cap is reported instead).

Raw data is synthesized inside PostgreSQL (generate_series); later days are copies of day 1 with shifted
dates and ids, and the day-partitioned dbt tables get days 5-26 as copies of day 4's rows instead of
running dbt over 22M events: the same volume and key spread, which is what the nightly cost depends on.
Prints ONE JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core import windows  # noqa: E402
from core.database import PgParams, bootstrap, ensure_database, parse_url, start_embedded, stop_embedded  # noqa: E402
from generator.tiers import get_tier  # noqa: E402

DBT = Path(sys.executable).parent / "dbt"
DBT_DIR = REPO / "dbt_project"
RAW_DDL = REPO / "tests" / "fixtures" / "raw" / "raw_tables.sql"
START = date(2026, 1, 1)
EVENTS_PER_DAY = int(os.environ.get("KAIROO_BENCH_EVENTS_PER_DAY", "1000000"))
N_DAYS = 30
LOOKBACK = windows.LOOKBACK_DAYS
FIRST_FULL = LOOKBACK + 1  # the first night whose [day - lookback, day] window is all data
HRIS_CHANGES_PER_DAY = 200


def log(message: str) -> None:
    print(f"[bench_warehouse {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def day(n: int) -> date:
    """Day n of the benchmark (1-based)."""
    return START + timedelta(days=n - 1)


def skill_list(seed_expr: str, count: int, stride: int) -> str:
    """SQL for a ';'-separated list of `count` taxonomy skill names derived from an integer expression."""
    return (
        f"(select string_agg('skill ' || lpad((({seed_expr}) * {stride} + k * 29) % 600 + 1 || '', 4, '0'), "
        f"';') from generate_series(1, {count}) as k)"
    )


def synth_reference(conn: psycopg.Connection) -> None:
    """O*NET, resumes, postings, catalogue and the day-1 HRIS snapshot at the M tier."""
    tier = get_tier("M")
    d1 = day(1)
    load = f"'{d1}'::date, '{d1 + timedelta(days=1)} 01:00+00'::timestamptz, '1'"
    conn.execute(
        f"""
        insert into raw.onet_occupations (soc_code, title, description, job_zone, _file_id, _line,
            _partition_date, _loaded_at, _contract_version)
        select 'S' || lpad(i || '', 4, '0'), 'occupation ' || i, 'd', 1 + i % 5, 1, i, {load}
        from generate_series(1, {tier.n_occupations}) as i;

        insert into raw.onet_skills (soc_code, skill_id, skill_name, skill_kind, importance, level, _file_id,
            _line, _partition_date, _loaded_at, _contract_version)
        select 'S' || lpad(i || '', 4, '0'), 'K' || lpad(s || '', 4, '0'), 'skill ' || lpad(s || '', 4, '0'),
            (array['skill', 'knowledge', 'technology'])[1 + s % 3], 0.3 + ((i * j) % 70) / 100.0,
            case when s % 3 = 2 then null else ((i + j) % 100) / 100.0 end, 2, i * 100 + j, {load}
        from generate_series(1, {tier.n_occupations}) as i,
            generate_series(1, 40) as j,
            lateral (select (i * 7 + j * 13) % 600 + 1 as s) as sk;

        insert into raw.resumes (resume_id, user_key, headline, category, resume_text, skills,
            years_experience,
            education_level, location, region, gender, age_band, submitted_at, _file_id, _line,
            _partition_date, _loaded_at, _contract_version)
        select 'r' || u, 'u' || u, 'headline', 'cat' || u % 25, '[redacted]', {skill_list("u", 8, 11)},
            u % 20, (array['high_school', 'associate', 'bachelor', 'master', 'doctorate'])[1 + u % 5],
            'city' || u % 50, 'r' || u % 5, (array['F', 'M', 'X'])[1 + u % 3],
            (array['<25', '25-34', '35-44', '45-54', '55+'])[1 + u % 5],
            '{d1}'::timestamptz - (1 + u % 300) * interval '1 day', 3, u, {load}
        from generate_series(1, {tier.n_users}) as u;

        insert into raw.job_postings (job_id, title, company, category, location, region, description,
            responsibilities, min_qualifications, preferred_qualifications, salary_text, required_skills,
            job_level, onet_soc_code, posted_at, _file_id, _line, _partition_date, _loaded_at,
            _contract_version)
        select 'j' || j, 'job ' || j, 'company' || j % 500, 'cat' || j % 25, 'city' || j % 50, 'r' || j % 5,
            'd', 'r', 'm', 'p', '', {skill_list("j", 6, 17)}, 1 + j % 5,
            'S' || lpad((1 + j % {tier.n_occupations}) || '', 4, '0'),
            '{d1}'::timestamptz - (1 + j % 30) * interval '1 day', 4, j, {load}
        from generate_series(1, {tier.n_jobs}) as j;

        insert into raw.learning_modules (module_id, title, provider, skills, level, duration_hours, _file_id,
            _line, _partition_date, _loaded_at, _contract_version)
        select 'm' || m, 'module ' || m, 'provider' || m % 20, {skill_list("m", 3, 23)},
            (array['beginner', 'intermediate', 'advanced'])[1 + m % 3], 1 + m % 12, 5, m, {load}
        from generate_series(1, {tier.n_modules}) as m;

        insert into raw.hris_employees (employee_key, tenant_id, user_key, manager_key, department, job_role,
            job_level, onet_soc_code, hire_date, termination_date, employment_status, gender,
            age_band, region,
            snapshot_date, _file_id, _line, _partition_date, _loaded_at, _contract_version)
        select 'e' || e, 't' || e % {tier.n_tenants}, 'u' || (e * 4 + 1), 'e' || e / 10, 'dept' || e % 15,
            'role' || e % 40, 1 + e % 5, 'S' || lpad((1 + e % {tier.n_occupations}) || '', 4, '0'),
            '{d1}'::date - (30 + e % 2000), null, 'active', (array['F', 'M', 'X'])[1 + e % 3],
            (array['<25', '25-34', '35-44', '45-54', '55+'])[1 + e % 5], 'r' || e % 5, '{d1}', 6, e, {load}
        from generate_series(0, {int(tier.n_users * tier.employee_share) - 1}) as e;
        """
    )


def synth_events(conn: psycopg.Connection) -> None:
    """Day 1's 1M events: mostly job views, some saves and applies, module funnels, tool sessions."""
    d1 = day(1)
    tier = get_tier("M")
    conn.execute("select setseed(0.42)")
    conn.execute(
        f"""
        insert into raw.interaction_events (event_id, user_key, event_type, item_type, item_id, occurred_at,
            duration_s, progress_pct, session_id, _file_id, _line, _partition_date, _loaded_at,
            _contract_version)
        select 'e0001-' || g, 'u' || (1 + (random() * ({tier.n_users} - 1))::int), t.event_type, t.item_type,
            case t.item_type
                when 'job' then 'j' || (1 + (random() * ({tier.n_jobs} - 1))::int)
                when 'module' then 'm' || (1 + (random() * ({tier.n_modules} - 1))::int)
                else 't' || (1 + (random() * 7)::int)
            end,
            '{d1}'::timestamptz + random() * interval '86399 seconds',
            (random() * 900)::int,
            case when t.item_type = 'module' then (random() * 100)::int end,
            's' || g / 8, 100, g, '{d1}', '{d1 + timedelta(days=1)} 01:00+00', '1'
        from generate_series(1, {EVENTS_PER_DAY}) as g,
            lateral (select random() as r, g as gg) as draw,
            lateral (
                select
                    case
                        when draw.r < 0.60 then 'job_view' when draw.r < 0.68 then 'job_save'
                        when draw.r < 0.72 then 'job_apply' when draw.r < 0.78 then 'module_start'
                        when draw.r < 0.86 then 'module_progress' when draw.r < 0.89 then 'module_complete'
                        else 'tool_session'
                    end as event_type,
                    case when draw.r < 0.72 then 'job' when draw.r < 0.89 then 'module' else 'tool' end
                        as item_type
            ) as t
        order by 6
        """
    )


def copy_day(conn: psycopg.Connection, n: int) -> None:
    """Deliver day n: day 1's events shifted by n-1 days (new ids), plus that day's HRIS changes."""
    shift = n - 1
    dn = day(n)
    conn.execute(
        f"""
        insert into raw.interaction_events (event_id, user_key, event_type, item_type, item_id, occurred_at,
            duration_s, progress_pct, session_id, _file_id, _line, _partition_date, _loaded_at,
            _contract_version)
        select 'e' || lpad('{n}', 4, '0') || substr(event_id, 6), user_key, event_type, item_type, item_id,
            occurred_at + interval '{shift} days', duration_s, progress_pct, session_id || '-{n}',
            100 + {n}, _line,
            '{dn}', _loaded_at + interval '{shift} days', _contract_version
        from raw.interaction_events
        where occurred_at >= '{day(1)}'::timestamptz and occurred_at < '{day(2)}'::timestamptz
        order by occurred_at
        """
    )
    # HRIS changes: a share of employees move department, get promoted or leave.
    conn.execute(
        f"""
        insert into raw.hris_employees (employee_key, tenant_id, user_key, manager_key, department, job_role,
            job_level, onet_soc_code, hire_date, termination_date, employment_status, gender,
            age_band, region,
            snapshot_date, _file_id, _line, _partition_date, _loaded_at, _contract_version)
        select employee_key, tenant_id, user_key, manager_key,
            case when k % 3 = 0 then 'dept' || (k % 15) else department end, job_role,
            least(job_level + (k % 3 = 1)::int, 5), onet_soc_code, hire_date,
            case when k % 3 = 2 then '{dn}'::date end,
            case when k % 3 = 2 then 'terminated' else 'active' end,
            gender, age_band, region, '{dn}', 200 + {n}, k, '{dn}', '{dn + timedelta(days=1)} 01:00+00', '1'
        from (
            select hris.*, {n} * 137 + row_number() over (order by hris.employee_key) as k
            from raw.hris_employees as hris
            where hris.snapshot_date = '{day(1)}' and abs(hashtext(hris.employee_key || '{n}')) % 125 = 0
            limit {HRIS_CHANGES_PER_DAY}
        ) as picked
        """
    )


def run_dbt(
    params: PgParams, target: Path, *args: str, timeout: float | None = None
) -> tuple[float, list[dict]]:
    """Run dbt; return (seconds, run results). Raises TimeoutError when `timeout` passes first."""
    env = {**os.environ, **params.dbt_env(), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    project = target.parent / "dbt_project"  # a frozen copy: edits during a long run must not leak in
    if not project.exists():
        shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    command = [str(DBT), *args, "--project-dir", str(project), "--profiles-dir", str(project)]
    command += ["--target-path", str(target), "--log-path", str(target / "logs")]
    started = time.perf_counter()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise TimeoutError(f"dbt {' '.join(args)} still running after {timeout:.0f} s") from exc
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-8000:])
        raise SystemExit(f"dbt {' '.join(args)} failed")
    results = json.loads((target / "run_results.json").read_text())["results"]
    return elapsed, results


# Day-partitioned dbt tables and their day column: history for them is synthesized by copying day 4's rows.
DERIVED_BY_DAY = {
    "intermediate.int_interaction_events": "event_date",
    "intermediate.int_user_item_daily": "event_date",
    "intermediate.int_user_activity_daily": "activity_date",
    "intermediate.int_item_daily": "event_date",
    "intermediate.int_user_category_daily": "event_date",
    "intermediate.int_tool_sessions": "session_date",
    "marts_build.fct_interactions": "event_date",
    "marts_build.fct_tool_usage_daily": "usage_date",
    "marts_build.mart_exec_kpis_daily": "kpi_date",
}


def copy_derived_day(conn: psycopg.Connection, source_day: int, n: int) -> None:
    """Give the dbt tables day n's history without running dbt over it: day `source_day`'s rows, shifted.

    The same volume and key spread a processed day would leave; what a night costs depends on it
    (table and index sizes, 28/30-day reads), not on the exact values.
    """
    shift = n - source_day
    for table, day_column in DERIVED_BY_DAY.items():
        schema, name = table.split(".")
        columns = conn.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = %s and table_name = %s order by ordinal_position",
            (schema, name),
        ).fetchall()
        select = []
        for column, data_type in columns:
            if column == "event_id":
                select.append(f"'e' || lpad('{n}', 4, '0') || substr(event_id, 6)")
            elif column == "session_key":
                select.append(f"md5(session_key || '{n}')")
            elif data_type == "date":
                select.append(f"{column} + {shift}")
            elif data_type.startswith("timestamp"):
                select.append(f"{column} + interval '{shift} days'")
            else:
                select.append(column)
        names = ", ".join(c for c, _ in columns)
        conn.execute(
            f"insert into {table} ({names}) select {', '.join(select)} from {table} "
            f"where {day_column} = '{day(source_day)}' order by {day_column}"
        )


def slowest(results: list[dict], n: int = 5) -> dict[str, float]:
    ranked = sorted(results, key=lambda r: r["execution_time"], reverse=True)[:n]
    return {r["unique_id"].split(".")[-1]: round(r["execution_time"], 2) for r in ranked}


def nightly_vars(n: int) -> str:
    # The same vars as the nightly step passes (assets/warehouse.py: dbt_vars), from their owner.
    window = {"min_date": day(n).isoformat(), "max_date": day(n).isoformat(), **windows.dbt_vars()}
    return json.dumps(window)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Explicit arguments win over the environment; with neither, what `make bench` runs."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("KAIROO_DATABASE_URL"),
        help="server for the scratch database (default: a throw-away embedded PostgreSQL)",
    )
    parser.add_argument(
        "--full-refresh-timeout",
        type=float,
        default=float(os.environ.get("KAIROO_BENCH_FULL_REFRESH_TIMEOUT", "0")),
        help="cap on the full refresh in seconds, 0 for none (then the cap is reported)",
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="kbw-", dir="/tmp"))  # short: unix socket path limit
    url = args.database_url
    full_refresh_timeout = args.full_refresh_timeout or None
    try:
        server = parse_url(url) if url else start_embedded(scratch / "pg")
        params = PgParams(server.host, server.port, server.user, server.password, "kairoo_bench_warehouse")
        with psycopg.connect(params.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(f'drop database if exists "{params.dbname}" with (force)')
        ensure_database(params)
        bootstrap(params)
        target = scratch / "dbt_target"
        with psycopg.connect(params.conninfo()) as conn:
            conn.execute(RAW_DDL.read_text())
            # Exactly-once is ingestion's job, not measured here; its unique index only slows the synthesis.
            conn.execute("drop index if exists raw.interaction_events_key")
            log(f"synthesizing reference data and days 1-{FIRST_FULL}")
            synth_reference(conn)
            synth_events(conn)
            for n in range(2, FIRST_FULL + 1):
                copy_day(conn, n)
        with psycopg.connect(params.conninfo(), autocommit=True) as conn:
            conn.execute("vacuum analyze")

        # Every relation, empty: the first real night then runs incrementally like any later one.
        log("creating the relations (dbt run --empty)")
        run_dbt(params, target, "run", "--empty")
        log(f"night of day {FIRST_FULL} (first full lookback window, no history before it)")
        day1_s, day1_results = run_dbt(params, target, "build", "--vars", nightly_vars(FIRST_FULL))

        log(
            f"delivering days {FIRST_FULL + 1}-{N_DAYS - 1} to raw, and days {FIRST_FULL + 1}-"
            f"{N_DAYS - LOOKBACK - 1} to the day-partitioned dbt tables"
        )
        with psycopg.connect(params.conninfo()) as conn:
            for n in range(FIRST_FULL + 1, N_DAYS):
                copy_day(conn, n)
                if n <= N_DAYS - LOOKBACK - 1:  # days 27-29 are inside day 30's window: dbt builds them
                    copy_derived_day(conn, FIRST_FULL, n)
                conn.commit()
            copy_day(conn, N_DAYS)
        with psycopg.connect(params.conninfo(), autocommit=True) as conn:
            conn.execute("vacuum analyze")
        log("night of day 30")
        day30_s, day30_results = run_dbt(params, target, "build", "--vars", nightly_vars(N_DAYS))
        with psycopg.connect(params.conninfo()) as conn:
            history = conn.execute("select count(*) from marts_build.fct_interactions").fetchone()[0]

        log("full refresh over days 1-30")
        try:
            full_refresh_s, _ = run_dbt(
                params, target, "build", "--full-refresh", timeout=full_refresh_timeout
            )
            full_refresh = {
                "full_refresh_s": round(full_refresh_s, 1),
                "full_refresh_ratio": round(full_refresh_s / day30_s, 3),
            }
        except TimeoutError:
            full_refresh = {"full_refresh_s": None, "full_refresh_exceeded_s": full_refresh_timeout}
        print(
            json.dumps(
                {
                    "bench": "warehouse",
                    "tier": "M",
                    "events_per_day": EVENTS_PER_DAY,
                    "lookback_days": LOOKBACK,
                    "window_events": EVENTS_PER_DAY * (LOOKBACK + 1),
                    "day1_s": round(day1_s, 1),
                    "day30_s": round(day30_s, 1),
                    "ratio": round(day30_s / day1_s, 3),
                    "goal_ratio": 1.1,
                    **full_refresh,
                    "goal_full_refresh_ratio": 5.0,
                    "full_refresh_events": EVENTS_PER_DAY * N_DAYS,
                    "fct_interactions_rows_day30": history,
                    "slowest_day1": slowest(day1_results),
                    "slowest_day30": slowest(day30_results),
                    "note": f"day1 = day {FIRST_FULL}: first night with a full [day-{LOOKBACK}, day] window, "
                    f"as on day 30; history days {FIRST_FULL + 1}-{N_DAYS - LOOKBACK - 1} of the dbt tables "
                    f"are copies of day {FIRST_FULL}",
                }
            )
        )
    finally:
        if not url:
            stop_embedded(scratch / "pg")
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
