"""One owner for the day counts dbt, Python and the GX suites share (core/windows.py), and no copy.

A number written twice drifts: the lookback (3 days) was once spelled in 17 places with nothing holding
them equal. These tests read dbt_project.yml, every model, macro and test of the dbt project, the GX
suites and the Python users, and fail on a copy that disagrees, on a default given a second time, or on
a bare day literal where an owned window belongs.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import yaml

from core import windows

REPO = Path(__file__).resolve().parents[1]
DBT_DIR = REPO / "dbt_project"
SHARED = windows.dbt_vars()


def dbt_sources() -> list[Path]:
    """Every file of the dbt project dbt renders: models, macros, tests (not its build products)."""
    return sorted(
        p
        for folder in ("models", "macros", "tests")
        for p in (DBT_DIR / folder).rglob("*")
        if p.suffix in (".sql", ".yml", ".yaml")
    )


def test_dbt_project_defaults_equal_the_owner():
    declared = yaml.safe_load((DBT_DIR / "dbt_project.yml").read_text())["vars"]
    assert {name: declared.get(name) for name in SHARED} == SHARED


def test_models_and_macros_give_shared_vars_no_default_of_their_own():
    # `var('lookback_days', 3)` is a second default: it wins whenever the var is not declared and
    # silently keeps the old number when the owner changes. dbt_project.yml declares each one.
    names = "|".join(SHARED)
    second_default = re.compile(rf"""var\(\s*['"]({names})['"]\s*,""")
    found = [
        f"{path.relative_to(REPO)}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
        for path in dbt_sources()
        for text in [path.read_text()]
        for m in second_default.finditer(text)  # \s* spans a call wrapped across YAML lines
    ]
    assert not found, found


def test_every_shared_var_is_read_by_the_dbt_project():
    text = "\n".join(p.read_text() for p in dbt_sources())
    unread = [name for name in SHARED if not re.search(rf"""var\(\s*['"]{name}['"]""", text)]
    assert not unread, f"declared in core.windows.dbt_vars() but read by no model or macro: {unread}"


def test_features_use_the_owned_windows_not_day_literals():
    # A feature window written as `as_of_date - 28` is a copy of core.windows.LONG_WINDOW_DAYS.
    literal = re.compile(r"\b(as_of_date|reference_date|event_date|activity_date)\s*-\s*\d+\b")
    found = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()}"
        for path in sorted((DBT_DIR / "models" / "features").glob("*.sql"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if literal.search(line) and not line.lstrip().startswith("--")
    ]
    assert not found, found


def test_window_column_names_match_the_windows():
    # `item_popularity_7d` must count 7 days: a column's suffix is the window it was built with.
    from ml.features import MODEL_FEATURES

    allowed = {windows.SHORT_WINDOW_DAYS, windows.LONG_WINDOW_DAYS}
    columns = set(MODEL_FEATURES)
    for path in (DBT_DIR / "models" / "features").glob("*.yml"):
        for model in yaml.safe_load(path.read_text()).get("models", []):
            columns |= {c["name"] for c in model.get("columns", [])}
    suffixes = {c: int(m.group(1)) for c in columns if (m := re.search(r"_(\d+)d$", c))}
    assert suffixes, "no windowed feature column found: the pattern no longer matches the names"
    assert {c: d for c, d in suffixes.items() if d not in allowed} == {}


def test_suites_take_their_windows_from_the_owner(monkeypatch):
    # Change the owner's numbers, rebuild the suites, and every day arithmetic in their SQL follows:
    # a literal left in a query would keep the old number.
    import importlib

    import quality.mart_suites
    from quality.runner import render_query

    monkeypatch.setattr(windows, "LOOKBACK_DAYS", 5)
    monkeypatch.setattr(windows, "VOLUME_BASELINE_DAYS", 97)
    try:
        suites = importlib.reload(quality.mart_suites)
        day = date(2026, 3, 10)
        queries = {m.suite.name: render_query(m.suite, day, day) for m in suites.MART_SUITES if m.suite.query}
    finally:
        monkeypatch.undo()
        importlib.reload(quality.mart_suites)
    offsets = {
        name: set(re.findall(r"(?:date|_date|'::date)\s*-\s*(\d+)\b", q)) for name, q in queries.items()
    }
    # 97: the volume baseline; 1: "the day before", not a window.
    assert {name: o - {"97", "1"} for name, o in offsets.items() if o - {"97", "1"}} == {}
    assert "97" in offsets["fct_interactions_volume"]
    lookback_windowed = [n for n, q in queries.items() if "between '2026-03-05' and '2026-03-10'" in q]
    assert sorted(lookback_windowed) == [
        "fct_interactions_integrity",
        "fct_interactions_window",
        "fct_tool_usage_daily_window",
    ]


def test_python_users_read_the_owner():
    from ml.candidates import CandidateConfig

    assert CandidateConfig().retention_days == windows.CANDIDATE_RETENTION_DAYS


def test_every_dbt_invocation_receives_the_shared_vars():
    import json

    from assets.warehouse import LOOKBACK_DAYS, dbt_build_args

    args = dbt_build_args(date(2026, 3, 1), date(2026, 3, 2))
    passed = json.loads(args[args.index("--vars") + 1])
    assert passed == {"min_date": "2026-03-01", "max_date": "2026-03-02", **SHARED}
    assert LOOKBACK_DAYS == windows.LOOKBACK_DAYS
