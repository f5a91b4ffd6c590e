"""Observability board: how the last nights went, for the data team.

A night picker (default: the latest night; also `?night=YYYY-MM-DD`) shows that night's verdict and
checks, then every row the monitoring stage's observability marts hold for it, exact: quarantine by
source and rule, drift and bias results (with their reports), anomalies, freshness, model versions
and promotion decisions with reasons, plan costs, cache hits and fallbacks, and the waivers in force
(the state now, whatever the night). Above them, the last 14 nights at a glance: checks per night,
and what each section counted each night (`boards.queries.OBS_TRENDS`).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import altair as alt
import streamlit as st

from boards import queries, ui

page = ui.Page("Observability board")
try:
    nights = ui.query("obs_nights")
except queries.NotPublished as err:
    page.not_published(err)
days: list[date] = ui.query("obs_days")
if not days:
    st.caption("The observability marts have no night yet: a night's verdict is published by the next night.")
    page.end()
    st.stop()

asked = st.query_params.get("night")
choices = [d.isoformat() for d in days]
night = date.fromisoformat(
    st.selectbox(
        "Night",
        choices,
        index=choices.index(asked) if asked in choices else 0,
        key="obs_night",
        help=f"One of the last {queries.OBS_NIGHTS} nights the observability marts hold, newest first.",
    )
)
st.query_params["night"] = night.isoformat()  # a link to the page opens this night

ran = nights[nights["as_of_date"] == night]
if not len(ran):
    st.caption(f"marts.mart_obs_nights has no verdict for {night}: a night's verdict comes the next night.")
else:
    run = ran.iloc[-1]  # the night's latest run, as the banner picks it
    c = st.columns(4)
    c[0].metric("Night", night.isoformat())
    c[1].metric("Verdict", str(run["verdict"]).upper())
    c[2].metric("Checks passed", ui.count(int(run["checks_passed"])))
    c[3].metric("Checks failed", ui.count(int(run["checks_failed"])))

st.subheader(f"The last {len(days)} nights")
if len(nights):
    checks = nights.melt(
        "as_of_date", ["checks_passed", "checks_failed"], var_name="checks", value_name="count"
    )
    page.chart(alt.Chart(checks, height=200).mark_bar().encode(
        x=alt.X("as_of_date:T", title="night"), y="count:Q", color="checks:N",
        tooltip=["as_of_date:T", "checks:N", "count:Q"]), key="chart_checks")  # fmt: skip
st.caption("What each section counted each night (an empty cell: the mart has no row for that night).")
ui.exact_table(ui.query("obs_trend", days), "trend")

for table, title in queries.OBS_SECTIONS.items():
    st.subheader(title)
    try:
        rows = ui.query("obs_rows", table, night)
    except queries.NotPublished as err:
        st.caption(str(err))
        continue
    in_force = queries.obs_day_column(list(rows.columns)) is None
    if not len(rows):
        st.caption(f"marts.{table}: no rows" + ("." if in_force else f" for {night}."))
        continue
    if len(rows) > queries.OBS_ROW_LIMIT:
        rows = rows.head(queries.OBS_ROW_LIMIT)
        st.caption(f"More than {queries.OBS_ROW_LIMIT} rows: the first {queries.OBS_ROW_LIMIT} are shown.")
    if in_force:
        st.caption("In force now, whatever the night.")
    ui.exact_table(rows, table)
    # Reports (drift, bias) are files of the night: offered for download when this host has them.
    for column in [c for c in rows.columns if c.endswith("report_path")]:
        for i, path in enumerate(sorted({p for p in rows[column].dropna().tolist() if p})):
            report = Path(path)
            if report.is_file():
                st.download_button(f"Report: {report.name}", report.read_bytes(), file_name=report.name,
                                   mime="text/html", key=f"{table}-{column}-{i}")  # fmt: skip
            else:
                st.caption(f"Report {path} is not on this host.")
page.end()
