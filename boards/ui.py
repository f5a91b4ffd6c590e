"""The Streamlit layer shared by every page: settings, cached queries, the banner, number formats.

Queries are cached per (query, connection, arguments) for ten minutes: the published marts change
once a night, and a cached page renders without touching PostgreSQL. Every figure a page shows is
also listed unrounded in its "Figures on this page" table, under a stable name, so anyone (and the
browser tests) can reconcile the page with SQL on the published tables.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from boards import queries
from boards.connection import reader_params
from core.database import connect
from core.settings import get_settings

CACHE_TTL_S = 600


@st.cache_resource(show_spinner=False)
def reader_conninfo() -> str:
    """The reader role's connection string (resolving it may start the embedded server: once)."""
    return reader_params(get_settings()).conninfo()


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


def page_start(title: str) -> float:
    """Title and banner; returns the start time for `page_end`."""
    began = time.perf_counter()
    st.title(title)
    render_banner(query("banner"))
    return began


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


def not_published(err: queries.NotPublished) -> None:
    st.info(f"{err} Run `make demo` (or wait for tonight's run) and reload.")
    st.stop()


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


def page_end(began: float) -> None:
    """The last element of every page: the browser tests and the benchmark wait for it."""
    st.caption(f"Page ready: rendered in {time.perf_counter() - began:.2f} s (server side).")
