"""Boards benchmark: is every page ready in under 2 s on M-tier data?

For a tier (default M: 20 enterprise tenants, 100k users) it builds, on a throw-away embedded
PostgreSQL, the published tables the pages read, at that tier's cardinalities over 30 days: the
executive marts (mart_exec_kpis_daily, mart_tenant_activity_daily, mart_tenant_tool_usage_daily,
mart_workforce_mobility, one row per day x tenant x tool / department), every observability mart whose
dbt contract exists (rows per night per contract), and a review queue of pending plans when the plans
stage is installed. Tables are created from the marts' dbt contracts (column names and types), rows
are synthesized in SQL: the pages read pre-aggregated marts, so their cost follows these row counts,
not the 1M events a day behind them (the warehouse benchmark measures building them).

Then it serves the real app (`python -m boards.serve`) as `kairoo_reader` and loads every page in
Debian's headless Chromium (Playwright): ready = the page's last element is drawn, Streamlit has
stopped running and every announced chart (Vega-Lite) is drawn. One cold load per page (empty caches),
then `--loads` warm loads (default 10, or KAIROO_BENCH_BOARDS_LOADS). The same is measured at tier S
in the same run as the reference. Prints ONE JSON line:
{"bench": "boards", "tier", "pages", "p95_ready_s", "cold_max_s", "reference_tier", "reference_p95_ready_s",
 "ratio", "rows", ...}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from boards.browser import CHROMIUM, CHROMIUM_ARGS, READY_JS  # noqa: E402
from core.database import PgParams, bootstrap, connect, ensure_database, start_embedded, stop_embedded  # noqa: E402
from generator.tiers import get_tier  # noqa: E402

MODELS = REPO / "dbt_project" / "models"
DAYS = 30
TOOLS = ["interview_coach", "resume_review", "salary_insights", "career_path_explorer"]
DEPARTMENTS = 22  # O*NET major groups the generator's departments are drawn from
PAGES = {"executive": "", "observability": "observability", "review": "review"}


def log(message: str) -> None:
    print(f"[bench_boards {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def contract(table: str) -> list[tuple[str, str]] | None:
    """(column, type) of a mart's dbt contract, or None when no such model exists."""
    for path in MODELS.rglob(f"{table}.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            if model["name"] == table:
                return [(c["name"], c.get("data_type", "text")) for c in model.get("columns", [])]
    return None


def create_from_contract(conn, table: str) -> list[tuple[str, str]] | None:
    columns = contract(table)
    if columns is None:
        return None
    body = ", ".join(f'"{name}" {kind}' for name, kind in columns)
    conn.execute(f"drop table if exists marts.{table}")
    conn.execute(f"create table marts.{table} ({body})")
    return columns


def fill_executive(conn, n_tenants: int, n_users: int) -> None:
    tenants = f"(select 'direct' as tenant_id union all select 't' || lpad(g::text, 2, '0') from generate_series(1, {n_tenants}) g)"  # noqa: E501
    days = f"(select (date '2026-01-01' + g) as d from generate_series(0, {DAYS - 1}) g)"
    share = f"{n_users} / ({n_tenants} + 4)"  # direct users are about four tenants' worth
    conn.execute(f"""
        insert into marts.mart_exec_kpis_daily (kpi_date, dau, wau, mau, new_users, tool_active_users,
            tool_adoption_rate, job_views, job_applications, applying_users, module_starts,
            module_completions, learning_completion_rate, d7_cohort_users, d7_retained_users,
            d7_retention_rate)
        select d, {n_users} * 7 / 10, {n_users} * 9 / 10, {n_users}, 400, {n_users} / 10, 0.14,
               {n_users} * 8, {n_users} / 5, {n_users} / 8, {n_users} / 3, {n_users} / 5, 0.6, 400, 120, 0.3
        from {days} as days
    """)  # fmt: skip
    conn.execute(f"""
        insert into marts.mart_tenant_activity_daily
        select d, tenant_id, {share} * 7 / 10, {share} * 9 / 10, {share},
               {share} * 8, {share} / 2, {share} / 5, {share} / 3, {share} / 2, {share} / 5, {share} * 600
        from {days} as days cross join {tenants} as tenants
    """)  # fmt: skip
    conn.execute(f"""
        insert into marts.mart_tenant_tool_usage_daily
        select d, tenant_id, tool_id, {share} / 40, {share} / 35, {share} * 30
        from {days} as days cross join {tenants} as tenants
        cross join unnest(array{TOOLS}) as tool_id
    """)  # fmt: skip
    conn.execute(f"""
        insert into marts.mart_workforce_mobility
        select d, tenant_id, 'department ' || dep, 200 + dep, 2, 1, 1, 1, 1, 1, 0.005, 0.015
        from {days} as days cross join {tenants} as tenants
        cross join generate_series(1, {DEPARTMENTS}) as dep
        where tenant_id <> 'direct'
    """)  # fmt: skip


def fill_generic(conn, table: str, columns: list[tuple[str, str]], rows_per_night: int) -> None:
    """Rows per night for an observability mart, typed by its contract (values are placeholders)."""
    values = []
    for name, kind in columns:
        k = kind.lower()
        if name == "as_of_date" or k == "date":
            values.append(f"date '2026-01-01' + (g / {rows_per_night})")
        elif name in ("verdict", "status", "level"):
            values.append("(array['pass', 'warn', 'block'])[1 + g % 3]" if name != "level" else "'ok'")
        elif k.startswith("timestamp"):
            values.append("timestamptz '2026-01-01' + g * interval '1 minute'")
        elif k in ("integer", "int", "bigint", "smallint"):
            values.append(f"(g % 97)::{k}")
        elif k.startswith(("numeric", "double", "float", "real")):
            values.append(f"((g % 997) / 1000.0)::{k}")
        elif k == "boolean":
            values.append("g % 2 = 0")
        elif k.startswith("json"):
            values.append(f"jsonb_build_object('n', g)::{k}")
        else:
            values.append(f"'{name} ' || (g % 50)")
    last = DAYS * rows_per_night - 1
    conn.execute(f"insert into marts.{table} select {', '.join(values)} from generate_series(0, {last}) g")


def fill_review_queue(conn, pending: int) -> bool:
    """Pending plans with a previous approved plan each; False when the plans stage is not installed."""
    if conn.execute("select to_regclass('plans.review_queue')").fetchone()[0] is None:
        return False
    modules = [{"module_id": f"m{i}", "title": f"M{i}", "week": i + 1} for i in range(6)]
    plan = json.dumps({"summary": "bench", "modules": modules, "weekly_hours": 5,
                       "target_roles": [{"job_id": "j1", "title": "Analyst"}]})  # fmt: skip
    for i in range(pending):
        ids = []
        for status in ("approved", "pending_review"):
            ids.append(conn.execute(
                """insert into plans.plan_versions (user_key, as_of_date, plan, schema_version,
                   inputs_fingerprint, provider, model, prompt_version, guardrail_passed, status, run_id)
                   values (md5(%s), '2026-01-30', %s, 'plan/1', 'fp', 'bench', 'bench', 'v1', true, %s,
                           'bench')
                   returning plan_id""", (str(i), plan, status)).fetchone()[0])  # fmt: skip
        conn.execute(
            """insert into plans.review_queue
               (plan_id, user_key, as_of_date, queued_reason, previous_plan_id, deadline)
               values (%s, md5(%s), '2026-01-30', 'bench', %s, now() + interval '1 day')""",
            (ids[1], str(i), ids[0]),
        )
    return True


def build(params: PgParams, tier_name: str) -> dict[str, int]:
    tier = get_tier(tier_name)
    bootstrap(params)
    rows: dict[str, int] = {}
    with connect(params) as conn:
        for table in ("mart_exec_kpis_daily", "mart_tenant_activity_daily", "mart_tenant_tool_usage_daily",
                      "mart_workforce_mobility"):  # fmt: skip
            if create_from_contract(conn, table) is None:
                raise SystemExit(f"bench_boards: no dbt contract for {table}")
        fill_executive(conn, tier.n_tenants, tier.n_users)
        from boards.queries import OBS_SECTIONS

        for table in OBS_SECTIONS:
            columns = create_from_contract(conn, table)
            if columns is not None:
                fill_generic(conn, table, columns, rows_per_night=1 if table == "mart_obs_nights" else 40)
        rows["review_queue"] = 200 if fill_review_queue(conn, 200) else 0
        conn.execute("grant select on all tables in schema marts to kairoo_reader")
        for (table,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall():
            rows[table] = conn.execute(f"select count(*) from marts.{table}").fetchone()[0]
            conn.execute(f"analyze marts.{table}")
    return rows


def serve(params: PgParams, state: Path, port: int) -> subprocess.Popen:
    from boards.serve import environment

    env = environment({"KAIROO_STATE_DIR": str(state), "KAIROO_DATABASE_URL": params.conninfo()})
    process = subprocess.Popen([sys.executable, "-m", "boards.serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit("bench_boards: the boards server did not start within 90 s")


def measure(url: str, loads: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {p: [] for p in PAGES}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        for _ in range(loads + 1):
            for page_name, path in PAGES.items():
                page = context.new_page()
                began = time.perf_counter()
                page.goto(f"{url}/{path}")
                try:
                    page.wait_for_function(READY_JS, timeout=120_000, polling=50)
                except Exception as err:
                    text = page.locator("body").inner_text()[:1500]
                    raise SystemExit(f"bench_boards: {page_name!r} not ready: {err}; shows: {text}") from err
                times[page_name].append(time.perf_counter() - began)
                page.close()
        browser.close()
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def run_tier(server: PgParams, tier_name: str, state: Path, port: int, loads: int) -> dict:
    params = PgParams(
        server.host, server.port, server.user, server.password, f"bench_boards_{tier_name.lower()}"
    )
    ensure_database(params)
    log(f"tier {tier_name}: building the published tables")
    rows = build(params, tier_name)
    process = serve(params, state, port)
    try:
        log(f"tier {tier_name}: loading {len(PAGES)} pages {loads + 1} times")
        times = measure(f"http://127.0.0.1:{port}", loads)
    finally:
        process.terminate()
        process.wait(timeout=30)
    warm = [t for page in times.values() for t in page[1:]]
    return {
        "p95_ready_s": round(p95(warm), 3),
        "cold_max_s": round(max(page[0] for page in times.values()), 3),
        "per_page_p95_s": {page: round(p95(t[1:]), 3) for page, t in times.items()},
        "rows": rows,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Explicit arguments win over the environment; with neither, `make bench`'s: tier M, 10 loads."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "tier",
        nargs="?",
        type=str.upper,
        choices=["S", "M"],
        default=os.environ.get("KAIROO_BENCH_TIER", "M").upper(),
        help="tier measured (S is always measured too, as the reference)",
    )
    parser.add_argument(
        "--loads",
        type=int,
        default=int(os.environ.get("KAIROO_BENCH_BOARDS_LOADS", "10")),
        help="warm loads per page after the cold one",
    )
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    tier, loads = args.tier, args.loads
    if not os.access("/usr/bin/chromium", os.X_OK):
        raise SystemExit("bench_boards: /usr/bin/chromium is missing (make chromium)")
    state = Path(tempfile.mkdtemp(prefix="kbb-", dir="/tmp"))
    try:
        # outlives this process on purpose: stopped explicitly below (the app server is another process)
        server = start_embedded(state / "pg", outlive_process=True)
        reference = run_tier(server, "S", state, 8611, loads)
        measured = reference if tier == "S" else run_tier(server, tier, state, 8612, loads)
        print(json.dumps({
            "bench": "boards", "tier": tier, "pages": len(PAGES), "p95_ready_s": measured["p95_ready_s"],
            "goal_p95_s": 2.0, "cold_max_s": measured["cold_max_s"],
            "per_page_p95_s": measured["per_page_p95_s"], "warm_loads_per_page": loads,
            "reference_tier": "S", "reference_p95_ready_s": reference["p95_ready_s"],
            "ratio": round(measured["p95_ready_s"] / reference["p95_ready_s"], 3), "rows": measured["rows"],
            "load_average_1m": round(os.getloadavg()[0], 2),
        }))  # fmt: skip
    finally:
        stop_embedded(state / "pg")
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()
