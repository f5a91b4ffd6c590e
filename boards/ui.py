"""The Streamlit layer shared by every page: settings, cached queries, the banner, number formats.

Queries are cached per (query, connection, arguments) for ten minutes: the published marts change
once a night, and a cached page renders without touching PostgreSQL. Every figure a page shows is
also listed unrounded in its "Figures on this page" table, under a stable name, so anyone (and the
browser tests) can reconcile the page with SQL on the published tables.

What a page costs in the browser (measured at tier M, `benchmarks/bench_boards.py`): charts are
Vega-Lite (Altair, Streamlit's own charts): one Plotly chart alone cost 1.5-2.5 s per page load
(its 4.7 MB bundle is parsed and initialised on every load), a Vega-Lite chart a few tens of ms.
Long exact tables are one HTML string (`exact_table`): `st.table` renders every cell through
Streamlit's markdown component, which took ~20 s for the observability board's 1,600 rows (and
would read values such as `_x_` as markdown), the same rows as HTML well under half a second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, NoReturn

import streamlit as st

from boards import queries
from boards.connection import reader_params
from core.database import connect
from core.settings import get_settings

CACHE_TTL_S = 600


@st.cache_resource(show_spinner=False)
def _reader_conninfo(reader_url: str | None, database_url: str | None, state_dir: str) -> str:
    # Resolving it may start the embedded server: once per distinct configuration.
    return reader_params(get_settings()).conninfo()


def reader_conninfo() -> str:
    """The reader role's connection string for the current settings."""
    s = get_settings()
    return _reader_conninfo(s.reader_url, s.database_url, str(s.state_dir))


@st.cache_data(ttl=CACHE_TTL_S, show_spinner=False)
def _cached(name: str, conninfo: str, args: tuple[Any, ...]) -> Any:
    from core.database import parse_url

    fn: Callable[..., Any] = getattr(queries, name)
    with connect(parse_url(conninfo)) as conn:
        conn.read_only = True  # belt and braces: the role cannot write anyway
        return fn(conn, *args)


def query(name: str, *args: Any) -> Any:
    """Run `boards.queries.<name>(conn, *args)` as the reader role, cached."""
    return _cached(name, reader_conninfo(), args)


class Page:
    """One page run: title and banner first, then charts through `chart`, then `end`."""

    def __init__(self, title: str) -> None:
        self.began = time.perf_counter()
        self.charts = 0
        st.title(title)
        render_banner(query("banner"))

    def chart(self, figure: Any, key: str) -> None:
        """An Altair (Vega-Lite) chart, counted for the readiness caption."""
        self.charts += 1
        st.altair_chart(figure, key=key, width="stretch")

    def not_published(self, err: queries.NotPublished) -> NoReturn:
        """Say what is missing instead of a traceback, and end the page there."""
        st.info(f"{err}. Run `make demo` (or wait for tonight's run) and reload.")
        self.end()
        st.stop()

    def end(self) -> None:
        """The last element of every page. The browser tests and the benchmark wait for it and for
        the charts it announces (Vega-Lite draws them in the browser after the script has ended)."""
        elapsed = time.perf_counter() - self.began
        st.caption(f"Page ready: {self.charts} charts; script ran in {elapsed:.2f} s.")


def render_banner(b: queries.Banner) -> None:
    as_of = b.as_of_date.isoformat() if b.as_of_date else "nothing published yet"
    if b.verdict is None:
        night = "no night verdict published yet (marts.mart_obs_nights)"
    else:
        checks = f"{b.checks_passed} checks passed, {b.checks_failed} failed"
        night = f"night of {b.night_date}: gate **{b.verdict.upper()}** ({checks}; run {b.run_id})"
    text = f"Data as of **{as_of}** · {night}"
    if b.stale:
        text += " · the latest night did not publish: these marts are from an earlier night"
    show = {"pass": st.success, "warn": st.warning, "block": st.error}.get(b.verdict or "", st.info)
    show(text, icon=":material/event:")


def count(n: int | None) -> str:
    return "–" if n is None else f"{n:,}"


def pct(r: float | None) -> str:
    return "–" if r is None else f"{r:.1%}"


def hours(h: float | None) -> str:
    return "–" if h is None else f"{h:,.1f} h"


def figures_table(figures: Mapping[str, Any]) -> None:
    """Every figure of the page, unrounded, under a stable name (the reconciliation hook)."""
    st.subheader("Figures on this page")
    st.caption("Unrounded, as read from the published marts; names are stable.")
    rows = [{"figure": k, "value": "" if v is None else repr(v)} for k, v in figures.items()]
    st.table(rows, hide_index=True)


def cell(value: Any) -> str:
    """One table cell, exact: floats unrounded (repr), dates ISO, JSON as JSON, nulls empty."""
    import datetime as dt
    import decimal
    import json

    if value is None or (isinstance(value, float) and value != value):  # NaN: a missing number
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


# The exact tables' look (Streamlit's own table style, restated: they are not st.table).
TABLE_CSS = """<style>
table.kairoo-exact { border-collapse: collapse; font-size: 0.875rem; width: 100%; }
table.kairoo-exact th, table.kairoo-exact td {
  border: 1px solid rgba(49, 51, 63, 0.1); padding: 0.25rem 0.375rem; text-align: left;
  white-space: nowrap; vertical-align: top; }
table.kairoo-exact th { color: rgba(49, 51, 63, 0.7); font-weight: 400; }
div.kairoo-exact-wrap { overflow-x: auto; max-width: 100%; }
</style>"""


def exact_html(frame: Any, name: str) -> str:
    """The table as one HTML string: a header of column names, then one row per row, every cell
    `cell(value)` escaped (shown as text, never as markdown or HTML). `name` marks the table
    (`data-table`) so the browser tests find each one."""
    from html import escape

    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False, name=None)
    )
    return (
        f'<div class="kairoo-exact-wrap"><table class="kairoo-exact" data-table="{escape(name)}">'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def diff_html(diff: str) -> str:
    """A unified diff as preformatted HTML, added lines green and removed lines red (st.code would
    load Streamlit's 1.5 MB syntax highlighter on every load of the page for this one block)."""
    from html import escape

    colours = {"+": "#177233", "-": "#b42318", "@": "#6b7280"}
    lines = []
    for line in diff.splitlines():
        colour = colours.get(line[:1]) if not line.startswith(("+++", "---")) else None
        text = escape(line)
        lines.append(f'<span style="color: {colour}">{text}</span>' if colour else text)
    body = "\n".join(lines)
    return f'<pre style="font-size: 0.8rem; overflow-x: auto; margin: 0">{body}</pre>'


def exact_table(frame: Any, name: str) -> None:
    """A table whose every cell is the exact published value, drawn as plain HTML in one piece."""
    st.html(TABLE_CSS + exact_html(frame, name))
