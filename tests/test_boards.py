"""The boards: real PostgreSQL, Streamlit's AppTest, and a real headless Chromium after a real night.

Fast tests (no night): the reader role's privileges, and every page on a warehouse where nothing is
published yet. Then ONE module-scoped night (tier S, ten days as one backfill run of the nightly job,
in process) feeds the page-logic tests (AppTest) and the browser tests (Playwright driving Debian's
chromium against `python -m boards.serve`), which screenshot every page into the test's tmp dir
and reconcile every figure on it with SQL on the published tables.
"""

from __future__ import annotations

import json
import math
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest

from boards import queries
from boards.browser import CHROMIUM, CHROMIUM_ARGS, READY_JS
from boards.connection import READER_ROLE, reader_params, role_params
from core.database import PgParams, connect
from core.settings import Settings, get_settings
from tests.conftest import make_database

VIEWS = Path(__file__).resolve().parents[1] / "boards" / "views"
PAGES = {"executive": "", "observability": "observability", "review": "review"}  # page -> URL path
START, END = date(2026, 3, 1), date(2026, 3, 10)  # the ranker needs a closed 7-day label window


def _env(params: PgParams, state: Path) -> dict[str, str]:
    return {
        "KAIROO_STATE_DIR": str(state),
        "KAIROO_DATABASE_URL": params.conninfo(),
        "KAIROO_LANDING_URL": str(state / "landing"),
        "DAGSTER_HOME": str(state / "dagster"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'mlflow.db'}",
        "KAIROO_MLFLOW_ARTIFACTS": str(state / "mlartifacts"),
        "KAIROO_PARTITION_START": "2026-01-01",
    }


@pytest.fixture(autouse=True)
def _restore_main_module() -> Iterator[None]:
    """Streamlit's script runner installs the page as `sys.modules["__main__"]` and leaves it there.
    multiprocessing's spawn re-runs `__main__`'s file in every child, so a later test's Dask workers
    ran the executive page and died ("Nanny failed to start", seen in a full `make test`)."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def _app_test(page: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    """A page under AppTest, reading the given warehouse (the app reads settings from the env)."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    st.cache_data.clear()
    st.cache_resource.clear()
    return AppTest.from_file(str(VIEWS / f"{page}.py"), default_timeout=60)


# --- the reader role --------------------------------------------------------------------------


def test_reader_reads_published_marts_and_nothing_else(fresh_db: PgParams):
    with connect(fresh_db) as conn:
        conn.execute("create table marts.board_probe (n int)")
        conn.execute("insert into marts.board_probe values (1)")
        conn.execute("grant select on marts.board_probe to kairoo_reader")
        conn.execute("create table if not exists pii_vault.board_probe (n int)")
        conn.execute("create table if not exists raw.board_probe (n int)")
    forbidden = ["raw.board_probe", "pii_vault.board_probe", "ops.quality_results", "ops.publish_log"]
    forbidden += [
        "raw.interaction_events",
        "pii_vault.identifiers",
        "ops.quarantine",
        "marts_build.board_probe",
    ]
    reader = role_params(fresh_db, READER_ROLE)
    with psycopg.connect(reader.conninfo(), autocommit=True) as conn:
        assert conn.execute("select current_user").fetchone() == (READER_ROLE,)
        assert conn.execute("select n from marts.board_probe").fetchall() == [(1,)]
        for table in forbidden:
            with pytest.raises((psycopg.errors.InsufficientPrivilege, psycopg.errors.UndefinedTable)) as err:
                conn.execute(f"select * from {table} limit 1")
            # denied, not merely missing: the schema itself is closed to the role (or the table)
            assert isinstance(err.value, psycopg.errors.InsufficientPrivilege) or "marts_build" in table, (
                table
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("insert into marts.board_probe values (2)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create table marts.board_reader_owned (n int)")
        assert queries.published(conn, "board_probe")
        assert not queries.published(conn, "mart_obs_nights")


def test_explicit_reader_url_wins_over_the_warehouse(tmp_path: Path):
    settings = get_settings(
        {"KAIROO_STATE_DIR": str(tmp_path), "KAIROO_DATABASE_URL": "postgresql://owner:secret@db.internal:5432/kairoo",
         "KAIROO_READER_URL": "postgresql://reader:pw@replica.internal:6432/kairoo"}
    )  # fmt: skip
    assert reader_params(settings) == PgParams("replica.internal", 6432, "reader", "pw", "kairoo")
    env = {"KAIROO_STATE_DIR": str(tmp_path), "KAIROO_DATABASE_URL": "postgresql://owner:secret@db:5432/k"}
    derived = reader_params(get_settings(env))
    assert (derived.user, derived.password, derived.host, derived.dbname) == (READER_ROLE, "", "db", "k")


@pytest.mark.parametrize("page", ["executive", "observability"])
def test_pages_before_any_night_say_what_is_missing(page, fresh_db: PgParams, tmp_path, monkeypatch):
    at = _app_test(page, _env(fresh_db, tmp_path), monkeypatch).run()
    assert not at.exception, at.exception
    assert "nothing published yet" in at.info[0].value  # the banner
    assert any("is not published yet" in i.value for i in at.info), [i.value for i in at.info]
    assert at.caption[-1].value.startswith("Page ready")


def _html_cells(markup: str) -> list[list[str]]:
    """The text of every row's cells (th or td) of an HTML table, as a browser shows them."""
    from html.parser import HTMLParser

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.rows: list[list[str]] = []
            self.text: list[str] | None = None

        def handle_starttag(self, tag, attrs):
            if tag == "tr":
                self.rows.append([])
            elif tag in ("td", "th"):
                self.text = []

        def handle_endtag(self, tag):
            if tag in ("td", "th") and self.text is not None:
                self.rows[-1].append("".join(self.text))
                self.text = None

        def handle_data(self, data):
            if self.text is not None:
                self.text.append(data)

    parser = Cells()
    parser.feed(markup)
    return parser.rows


def test_exact_tables_show_every_value_as_text():
    """Markup and markdown in a value are shown as typed, never interpreted; numbers are unrounded."""
    import decimal

    import pandas as pd

    from boards import ui

    frame = pd.DataFrame(
        {"a <b>": ["<script>x</script>", "_not italic_ & **not bold**", None],
         "n": [0.1 + 0.2, decimal.Decimal("1.500000"), float("nan")],
         "d": [date(2026, 3, 1), {"k": [1, 2]}, 7]},
        dtype=object,
    )  # fmt: skip
    markup = ui.exact_html(frame, "probe")
    assert 'data-table="probe"' in markup and "<script>" not in markup
    assert _html_cells(markup) == [
        ["a <b>", "n", "d"],
        ["<script>x</script>", "0.30000000000000004", "2026-03-01"],
        ["_not italic_ & **not bold**", "1.500000", '{"k": [1, 2]}'],
        ["", "", "7"],
    ]
    diff = ui.diff_html("--- a\n+++ b\n-<old>\n+new\n same")
    assert "&lt;old&gt;" in diff and "<old>" not in diff


# --- one night, then the pages ------------------------------------------------------------------


@dataclass
class Night:
    params: PgParams
    settings: Settings
    env: dict[str, str]
    tmp: Path
    defs: object
    instance: object

    def run(self, start: date, end: date):
        tags = (
            {"dagster/partition": start.isoformat()}
            if start == end
            else {
                "dagster/asset_partition_range_start": start.isoformat(),
                "dagster/asset_partition_range_end": end.isoformat(),
            }
        )
        job = self.defs.resolve_job_def("nightly")  # type: ignore[attr-defined]
        return job.execute_in_process(instance=self.instance, tags=tags, raise_on_error=False)

    def rows(self, sql: str, params: dict | None = None) -> list[tuple]:
        with connect(self.params) as conn:
            return conn.execute(sql, params or {}).fetchall()


@pytest.fixture(scope="module")
def night(pg_server: PgParams, tmp_path_factory: pytest.TempPathFactory) -> Night:
    """Ten days of demo signals, run as one backfill run of the nightly job (publishes every mart)."""
    import dagster as dg

    from generator import GeneratorConfig, generate
    from orchestration.definitions import build_definitions

    tmp = tmp_path_factory.mktemp("boards")
    params = make_database(pg_server, "boards")
    env = _env(params, tmp)
    settings = get_settings(env)
    generate(GeneratorConfig(tier="S", landing_dir=tmp / "landing", oracle_dir=tmp / "oracle",
                             start=START, end=END + timedelta(days=1), seed=15))  # fmt: skip
    n = Night(params, settings, env, tmp, build_definitions(settings), dg.DagsterInstance.ephemeral())
    result = n.run(START, END)
    failures = [e.message for e in result.all_events if e.is_failure] + [
        e.check_name for e in result.get_asset_check_evaluations() if not e.passed
    ]
    assert result.success, failures
    return n


TOOL_TOTALS = (
    "select coalesce(sum(sessions), 0), coalesce(sum(sessions) filter (where tool_id = 'interview_coach'), 0)"
)


def expected_executive(night: Night, start: date, end: date, tenant: str | None) -> dict[str, float | int]:
    """The executive figures, recomputed from the published event facts (not the boards' marts)."""
    p = {"start": start, "end": end, "tenant": tenant}
    who = (
        "and (%(tenant)s::text is null"
        " or user_key in (select user_key from marts.dim_users where tenant_id = %(tenant)s))"
    )
    (dau, wau, mau, views, saves, applies, starts, completions, module_s), = night.rows(
        f"""
        select count(distinct user_key) filter (where event_date = %(end)s),
               count(distinct user_key) filter (where event_date > %(end)s::date - 7),
               count(distinct user_key),
               count(*) filter (where event_type = 'job_view' and event_date >= %(start)s),
               count(*) filter (where event_type = 'job_save' and event_date >= %(start)s),
               count(*) filter (where event_type = 'job_apply' and event_date >= %(start)s),
               count(*) filter (where event_type = 'module_start' and event_date >= %(start)s),
               count(*) filter (where event_type = 'module_complete' and event_date >= %(start)s),
               coalesce(sum(duration_s) filter (where item_type = 'module' and event_date >= %(start)s), 0)
        from marts.fct_interactions
        where event_date between %(end)s::date - 29 and %(end)s {who}
        """,
        p,
    )  # fmt: skip
    if tenant is None:
        # the product-wide KPI mart agrees with the facts
        assert night.rows(
            "select dau, wau, mau from marts.mart_exec_kpis_daily where kpi_date = %(end)s", p
        ) == [(dau, wau, mau)]
        (sessions, coach), = night.rows(f"{TOOL_TOTALS} from marts.fct_tool_usage_daily"
                                        " where usage_date between %(start)s and %(end)s", p)  # fmt: skip
    else:
        (sessions, coach), = night.rows(f"{TOOL_TOTALS} from marts.mart_tenant_tool_usage_daily"
                                        " where usage_date between %(start)s and %(end)s"
                                        " and tenant_id = %(tenant)s", p)  # fmt: skip
    figures: dict[str, float | int] = {
        "dau": dau, "wau": wau, "mau": mau,
        "job_views": views, "job_saves": saves, "job_applications": applies,
        "module_starts": starts, "module_completions": completions, "learning_hours": int(module_s) / 3600,
        "tool_sessions": int(sessions), "interview_coach_sessions": int(coach),
        "save_rate": saves / views, "apply_rate": applies / saves, "view_to_apply_rate": applies / views,
        "completion_rate": completions / starts,
    }  # fmt: skip
    figures = {f"executive.{k}": v for k, v in figures.items()}
    ((headcount, hires, terminations, moves),) = night.rows(
        """
        with ranked as (
            select *,
                   row_number() over (
                       partition by tenant_id, department order by snapshot_date desc
                   ) as recency
            from marts.mart_workforce_mobility
            where snapshot_date <= %(end)s and (%(tenant)s::text is null or tenant_id = %(tenant)s)
        )
        select (select coalesce(sum(headcount), 0) from ranked where recency = 1),
               coalesce(sum(hires), 0), coalesce(sum(terminations), 0),
               coalesce(sum(moves_in + promotions + lateral_moves), 0)
        from marts.mart_workforce_mobility
        where snapshot_date between %(start)s and %(end)s
          and (%(tenant)s::text is null or tenant_id = %(tenant)s)
        """,
        p,
    )
    figures |= {
        "mobility.headcount": int(headcount), "mobility.hires": int(hires),
        "mobility.terminations": int(terminations), "mobility.internal_moves": int(moves),
        "mobility.attrition_rate": terminations / headcount,
        "mobility.internal_mobility_rate": moves / headcount,
    }  # fmt: skip
    return figures


# label on the page -> (figure, display format)
EXEC_METRICS = {
    "DAU": ("executive.dau", "count"), "WAU": ("executive.wau", "count"), "MAU": ("executive.mau", "count"),
    "Job views": ("executive.job_views", "count"), "Job saves": ("executive.job_saves", "count"),
    "Job applications": ("executive.job_applications", "count"), "Save rate": ("executive.save_rate", "pct"),
    "Apply rate": ("executive.apply_rate", "pct"), "View to apply": ("executive.view_to_apply_rate", "pct"),
    "Modules started": ("executive.module_starts", "count"),
    "Modules completed": ("executive.module_completions", "count"),
    "Completion rate": ("executive.completion_rate", "pct"),
    "Learning hours": ("executive.learning_hours", "hours"),
    "Tool sessions": ("executive.tool_sessions", "count"),
    "Interview coach sessions": ("executive.interview_coach_sessions", "count"),
    "Headcount": ("mobility.headcount", "count"), "Hires": ("mobility.hires", "count"),
    "Terminations": ("mobility.terminations", "count"),
    "Internal moves": ("mobility.internal_moves", "count"),
    "Attrition rate": ("mobility.attrition_rate", "pct"),
    "Internal mobility rate": ("mobility.internal_mobility_rate", "pct"),
}  # fmt: skip


def shown(value: float | int, fmt: str) -> str:
    """How the page displays a figure (boards.ui's formats, restated)."""
    return {"count": f"{value:,}", "pct": f"{value:.1%}", "hours": f"{value:,.1f} h"}[fmt]


def reconcile(metrics: dict[str, str], exact: dict[str, str], expected: dict[str, float | int]) -> None:
    """Every metric and every unrounded figure on the page equals SQL: counts exactly, ratios to 1e-9."""
    assert set(exact) == set(expected), set(exact) ^ set(expected)
    for name, value in expected.items():
        if isinstance(value, int):
            assert exact[name] == repr(value), name
        else:
            assert math.isclose(float(exact[name]), value, rel_tol=0, abs_tol=1e-9), (
                name,
                exact[name],
                value,
            )
    assert set(metrics) == set(EXEC_METRICS), set(metrics) ^ set(EXEC_METRICS)
    for label, text in metrics.items():
        figure, fmt = EXEC_METRICS[label]
        assert text == shown(expected[figure], fmt), (label, text, expected[figure])


@pytest.mark.slow
def test_executive_page_logic(night: Night, monkeypatch):
    at = _app_test("executive", night.env, monkeypatch).run()
    assert not at.exception, at.exception
    assert f"Data as of **{END}**" in at.info[0].value
    choices = at.selectbox(key="exec_segment").options
    assert choices[:2] == [queries.ALL_USERS, queries.DIRECT] and len(choices) > 3
    for segment in [queries.ALL_USERS, choices[2]]:
        at.selectbox(key="exec_segment").set_value(segment).run()
        assert not at.exception, at.exception
        tenant = None if segment == queries.ALL_USERS else segment
        expected = expected_executive(night, START, END, tenant)
        metrics = {m.label: m.value for m in at.metric}
        exact = {row["figure"]: row["value"] for row in at.table[-1].value.to_dict("records")}
        reconcile(metrics, exact, expected)
        # The trend chart draws one point per day: DAU of each day equals the facts.
        data = _chart_data(at.get("vega_lite_chart")[0].proto)
        dau = data[data["measure"] == "dau"]
        daily = dict(night.rows(
            "select event_date, count(distinct user_key) from marts.fct_interactions"
            " where event_date between %(start)s and %(end)s and (%(t)s::text is null or user_key in"
            " (select user_key from marts.dim_users where tenant_id = %(t)s)) group by 1",
            {"start": START, "end": END, "t": tenant}))  # fmt: skip
        days = [date.fromisoformat(str(d)[:10]) for d in dau["activity_date"]]
        assert days == [START + timedelta(days=i) for i in range((END - START).days + 1)]
        assert [daily.get(d, 0) for d in days] == [int(v) for v in dau["users"]]

    # A narrower range: the headline numbers follow it.
    at.selectbox(key="exec_segment").set_value(queries.ALL_USERS)
    at.date_input(key="exec_range").set_value((START + timedelta(days=2), END - timedelta(days=1))).run()
    expected = expected_executive(night, START + timedelta(days=2), END - timedelta(days=1), None)
    exact = {row["figure"]: row["value"] for row in at.table[-1].value.to_dict("records")}
    reconcile({m.label: m.value for m in at.metric}, exact, expected)


def _chart_data(proto):
    """The rows a Vega-Lite chart draws (Streamlit ships them as Arrow IPC, inline or as a named dataset)."""
    import pyarrow as pa

    raw = proto.datasets[0].data.data if len(proto.datasets) else proto.data.data
    return pa.ipc.open_stream(raw).read_pandas()


# --- the browser --------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    process: subprocess.Popen


@pytest.fixture(scope="module")
def server(night: Night) -> Iterator[Server]:
    """`python -m boards.serve` on a free loopback port, reading the night's warehouse."""
    from boards.serve import environment

    port = _free_port()
    log = (night.tmp / "boards-server.log").open("w")
    process = subprocess.Popen(
        [os.sys.executable, "-m", "boards.serve", "--port", str(port)],
        env=environment(night.env), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                log_text = (night.tmp / "boards-server.log").read_text()
                raise RuntimeError(f"boards server did not start: {log_text}") from None
            time.sleep(0.3)
    yield Server(url, process)
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make chromium` installs Debian's chromium (make test runs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_page(browser, server: Server, path: str, shots: Path, name: str):
    page = browser.new_page(viewport={"width": 1400, "height": 4200})
    page.goto(f"{server.url}/{path}")
    page.wait_for_function(READY_JS, timeout=60_000, polling=50)
    shot = shots / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    return page


def page_metrics(page) -> dict[str, str]:
    out = {}
    for metric in page.locator('[data-testid="stMetric"]').all():
        label = metric.locator('[data-testid="stMetricLabel"]').inner_text().strip()
        out[label] = metric.locator('[data-testid="stMetricValue"]').inner_text().strip()
    return out


def page_figures(page) -> dict[str, str]:
    """The 'Figures on this page' table (the page's last table): figure -> unrounded value."""
    rows = page.locator('[data-testid="stTable"]').last.locator("tbody tr").all()
    cells = [[c.inner_text().strip() for c in r.locator("td, th").all()] for r in rows]
    return {c[-2]: c[-1] for c in cells}


@pytest.mark.slow
def test_executive_page_in_the_browser(night: Night, server: Server, browser, tmp_path: Path):
    page = open_page(browser, server, PAGES["executive"], tmp_path, "executive")
    banner = page.locator('[data-testid="stAlert"]').first.inner_text()
    assert f"Data as of {END}" in banner
    reconcile(page_metrics(page), page_figures(page), expected_executive(night, START, END, None))
    # no personal data: only pseudonymous aggregates, never a user key or an e-mail address
    text = page.locator("body").inner_text()
    assert not re.search(r"\b[0-9a-f]{32}\b", text) and "@" not in text
    page.close()


def expected_cell(value) -> str:
    """How an exact table shows a value (boards.ui.cell, restated)."""
    import datetime as dt
    import decimal

    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    return str(value)


def page_tables(page) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every exact table of the page, in order: (its data-table name, header, rows of cell texts)."""
    return [
        (t["name"], t["header"], t["rows"])
        for t in page.evaluate(
            """() => [...document.querySelectorAll('table.kairoo-exact')].map((t) => ({
                 name: t.dataset.table,
                 header: [...t.querySelectorAll('thead th')].map((c) => c.innerText.trim()),
                 rows: [...t.querySelectorAll('tbody tr')].map(
                   (r) => [...r.querySelectorAll('td')].map((c) => c.innerText.trim())),
               }))"""
        )
    ]


def _total(rows: list[dict], column: str):
    values = [r[column] for r in rows if r[column] is not None]
    return sum(values) if values else None


def _most(rows: list[dict], column: str):
    values = [r[column] for r in rows if r[column] is not None]
    return max(values) if values else None


# The board's 14-night measures (boards.queries.OBS_TRENDS), restated over a night's rows in Python.
TREND_MEASURES = {
    "mart_obs_nights": {
        "runs": len,
        "runs blocked": lambda rows: sum(r["verdict"] == "block" for r in rows),
        "checks failed": lambda rows: _total(rows, "checks_failed"),
    },
    "mart_obs_quarantine": {
        "rules broken": len,
        "rows quarantined": lambda rows: _total(rows, "rows_quarantined"),
        "files rejected": lambda rows: _total(rows, "files_rejected"),
    },
    "mart_obs_drift": {
        "columns tested": len,
        "drifted": lambda rows: sum(r["drifted"] is True for r in rows),
        "gating": lambda rows: sum(r["gating"] is True for r in rows),
    },
    "mart_obs_bias": {"group metrics": len, "failed": lambda rows: sum(r["passed"] is False for r in rows)},
    "mart_obs_anomalies": {
        "series scored": len,
        "warn": lambda rows: sum(r["level"] == "warn" for r in rows),
        "error": lambda rows: sum(r["level"] == "error" for r in rows),
    },
    "mart_obs_freshness": {
        "sources loaded": len,
        "rows loaded": lambda rows: _total(rows, "rows_loaded"),
        "most hours late": lambda rows: _most(rows, "hours_after_day_end"),
    },
    "mart_obs_models": {
        "versions served": len,
        "promotions": lambda rows: sum(r["promoted"] is True for r in rows),
    },
    "mart_obs_plan_costs": {
        "plans written": lambda rows: _total(rows, "plans_written"),
        "fallbacks": lambda rows: _total(rows, "fallbacks"),
        "cost usd": lambda rows: _total(rows, "cost_usd"),
    },
}  # fmt: skip


def expected_observability(conn: psycopg.Connection, night: date | None):
    """What the board shows for `night` (None: its default, the newest), from SQL on the published marts:
    (the nights offered, the night shown, its metrics, every exact table in the page's order)."""
    published = [t for t in queries.OBS_SECTIONS if queries.published(conn, t)]
    marts = {}
    for table in published:
        cur = conn.execute(f"select * from marts.{table}")
        columns = [c.name for c in cur.description]
        day = next((c for c in ("as_of_date", "partition_date") if c in columns), None)
        marts[table] = (columns, day, [dict(zip(columns, r, strict=True)) for r in cur.fetchall()])
    days = sorted({r[day] for _, day, rows in marts.values() if day for r in rows if r[day]}, reverse=True)
    days = days[: queries.OBS_NIGHTS]
    shown = night or days[0]
    assert shown in days
    metrics = {}
    run = conn.execute(
        "select verdict, checks_passed, checks_failed from marts.mart_obs_nights"
        " where as_of_date = %s order by run_id desc limit 1", (shown,)
    ).fetchone()  # fmt: skip
    if run:
        metrics = {"Night": shown.isoformat(), "Verdict": run[0].upper(),
                   "Checks passed": f"{run[1]:,}", "Checks failed": f"{run[2]:,}"}  # fmt: skip
    window = sorted(days)
    trend = []
    for table, measures in TREND_MEASURES.items():
        if table not in marts or not marts[table][1]:
            continue
        _, day, rows = marts[table]
        for measure, restated in measures.items():
            by_night = {d: [r for r in rows if r[day] == d] for d in window}
            cells = [expected_cell(restated(by_night[d]) if by_night[d] else None) for d in window]
            trend.append([queries.OBS_SECTIONS[table], measure, *cells])
    tables = [("trend", ["section", "measure", *(d.isoformat() for d in window)], trend)]
    for table in published:
        columns, day, _ = marts[table]
        rest = ", ".join(f'"{c}"' for c in columns if c != day)
        where = f"where {day} = %(night)s" if day else ""
        rows = conn.execute(
            f"select * from marts.{table} {where} order by {rest} limit {queries.OBS_ROW_LIMIT}",
            {"night": shown},
        ).fetchall()
        if rows:
            tables.append((table, columns, [[expected_cell(v) for v in r] for r in rows]))
    return days, shown, metrics, tables


@pytest.mark.slow
def test_observability_page_in_the_browser(night: Night, server: Server, browser, tmp_path: Path):
    import importlib.util

    page = open_page(browser, server, PAGES["observability"], tmp_path, "observability")
    reader = role_params(night.params, READER_ROLE)
    with psycopg.connect(reader.conninfo(), autocommit=True) as conn:
        published = [t for t in queries.OBS_SECTIONS if queries.published(conn, t)]
        if importlib.util.find_spec("monitoring") is not None:
            # the monitoring stage is installed: its nights must be on the board
            assert "mart_obs_nights" in published
        if "mart_obs_nights" not in published:
            assert "marts.mart_obs_nights is not published yet" in page.locator("body").inner_text()
            page.close()
            return
        latest = conn.execute(
            "select verdict from marts.mart_obs_nights order by as_of_date desc, run_id desc limit 1"
        ).fetchone()
        banner = page.locator('[data-testid="stAlert"]').first.inner_text()
        if latest is None:  # the first night's verdict is published by the next night
            assert "no night verdict published yet" in banner
        else:
            assert f"gate {latest[0].upper()}" in banner
        days, shown, metrics, tables = expected_observability(conn, None)
        assert len(days) > 1, days  # ten nights ran: the picker offers more than one
        # The picker shows the newest night and offers the last nights, newest first.
        assert page.get_by_role("combobox", name="Night").input_value() == shown.isoformat()
        page.get_by_test_id("stSelectbox").get_by_role("button", name="Open").click()
        assert page.get_by_role("option").all_inner_texts() == [d.isoformat() for d in days]
        page.keyboard.press("Escape")
        # Every metric and every cell of every table equals SQL, in the board's order.
        assert page_metrics(page) == metrics
        assert page_tables(page) == tables
        # A reviewer picks an older night: its own verdict and rows (the 14-night trend stays).
        older = days[len(days) // 2]
        _, shown, metrics, tables = expected_observability(conn, older)
        assert shown == older and tables[0] == expected_observability(conn, None)[3][0]
        page.get_by_test_id("stSelectbox").get_by_role("button", name="Open").click()
        page.get_by_role("option", name=older.isoformat(), exact=True).click()
        _wait_until(page, lambda: page_metrics(page) == metrics and page_tables(page) == tables)
        assert page_metrics(page) == metrics
        assert page_tables(page) == tables
        assert page.url.endswith(f"?night={older}")  # the page links to the night it shows
        page.close()
        # The link opens that night.
        page = open_page(browser, server, f"{PAGES['observability']}?night={older}", tmp_path, "obs-older")
        assert page.get_by_role("combobox", name="Night").input_value() == older.isoformat()
        assert page_metrics(page) == metrics
        assert page_tables(page) == tables
    page.close()


def _wait_until(page, done, timeout_s: float = 60) -> None:
    """Wait for a rerun to finish showing what `done` expects (the caller asserts it after)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if page.evaluate(READY_JS) and done():
            return
        page.wait_for_timeout(200)


@pytest.mark.slow
def test_review_round_trip_in_the_browser(night: Night, server: Server, browser, tmp_path: Path):
    """A model's plan waits for review; the reviewer edits and approves it in the browser; the next
    night publishes the edited plan as the user's plan."""
    plan_review = pytest.importorskip("plans.review", reason="the plans stage (#13) is not installed here")
    from plans.schema import Plan

    published = night.rows("select user_key, plan_id, plan from marts.user_plans order by user_key limit 1")
    assert published, "the night published no plan"
    user_key, previous_id, previous = published[0]
    # What the plans night writes for a model's plan that differs from the last approved one (the
    # model itself is outside this test: the plans stage's own tests drive it through the loopback LLM).
    proposal = dict(previous, summary="A model's new plan, far from the last approved one.")
    Plan.model_validate(proposal)
    with connect(night.params) as conn:
        (queued_id,) = conn.execute(
            """
            insert into plans.plan_versions (user_key, as_of_date, plan, schema_version, inputs_fingerprint,
                provider, model, prompt_version, guardrail_passed, status, run_id)
            select user_key, as_of_date, %s, schema_version, inputs_fingerprint, 'loopback', 'gpt-test',
                   prompt_version, true, 'pending_review', run_id
            from plans.plan_versions where plan_id = %s
            returning plan_id
            """,
            (json.dumps(proposal), previous_id),
        ).fetchone()
        conn.execute(
            "insert into plans.review_queue (plan_id, user_key, as_of_date, queued_reason, previous_plan_id,"
            " deadline) values (%s, %s, %s, 'distance 0.80 to the last approved plan > 0.5', %s,"
            " now() + interval '1 day')",
            (queued_id, user_key, END, previous_id),
        )
    assert [q["plan_id"] for q in plan_review.pending(role_params(night.params, "kairoo_reviewer"))] == [
        queued_id
    ]

    page = open_page(browser, server, PAGES["review"], tmp_path, "review")
    assert "Queued because: distance 0.80" in page.locator("body").inner_text()
    assert "summary:" in page.locator("body").inner_text()  # the readable diff names the change
    page.get_by_role("textbox", name="Reviewer", exact=True).fill("reviewer.ana")
    editor = page.get_by_role("textbox", name="Plan (edit, then 'Approve edited plan')")
    edited = json.loads(editor.input_value())
    edited["summary"] = "Edited by a reviewer: take the data module first."
    editor.fill(json.dumps(edited, indent=2))
    page.get_by_role("button", name="Approve edited plan").click()
    page.get_by_text("Tonight's run applies it").wait_for(timeout=60_000)
    page.screenshot(path=str(tmp_path / "review-decided.png"), full_page=True)
    print(f"screenshot: {tmp_path / 'review-decided.png'}")
    page.close()
    status, reviewer, decided_at = night.rows(
        "select status, reviewer, decided_at from plans.review_queue where plan_id = %(p)s", {"p": queued_id}
    )[0]
    assert (status, reviewer) == ("edited", "reviewer.ana") and decided_at is not None

    result = night.run(END + timedelta(days=1), END + timedelta(days=1))
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    # The night honoured the decision once: the edit is stored as the reviewer's plan...
    applied = night.rows(
        "select v.provider, v.model, v.plan->>'summary', q.applied_at is not null"
        " from plans.plan_versions as v, plans.review_queue as q"
        " where v.user_key = %(u)s and v.provider = 'human' and q.plan_id = %(p)s",
        {"u": user_key, "p": queued_id},
    )
    assert applied == [("human", "reviewer:reviewer.ana", edited["summary"], True)]
    # ...and it is the user's published plan.
    plan, provider = night.rows(
        "select plan, provider from marts.user_plans where user_key = %(u)s", {"u": user_key}
    )[0]
    assert (provider, plan["summary"]) == ("human", edited["summary"])
