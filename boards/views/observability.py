"""Observability board: how the last nights went, for the data team.

The night's verdicts and checks, quarantine by source and rule, drift and bias results (with their
reports), anomalies, freshness, model versions and promotion decisions with reasons, plan costs,
cache hits and fallbacks, and the waivers in force: the monitoring stage's observability marts,
published like every mart. Cells are the exact published values.
"""

from __future__ import annotations

from pathlib import Path

import plotly.express as px
import streamlit as st

from boards import queries, ui

page = ui.Page("Observability board")
try:
    nights = ui.query("obs_nights")
except queries.NotPublished as err:
    page.not_published(err)

latest = nights.iloc[-1] if len(nights) else None
if latest is None:
    st.caption("marts.mart_obs_nights has no night yet: a night's verdict is published by the next night.")
else:
    c = st.columns(4)
    c[0].metric("Latest night", str(latest["as_of_date"]))
    c[1].metric("Verdict", str(latest["verdict"]).upper())
    c[2].metric("Checks passed", ui.count(int(latest["checks_passed"])))
    c[3].metric("Checks failed", ui.count(int(latest["checks_failed"])))
    checks = nights.melt(
        "as_of_date", ["checks_passed", "checks_failed"], var_name="checks", value_name="count"
    )
    page.chart(px.bar(checks, x="as_of_date", y="count", color="checks", height=260), key="chart_checks")

for table, title in queries.OBS_SECTIONS.items():
    st.subheader(title)
    try:
        rows = ui.query("obs_rows", table)
    except queries.NotPublished as err:
        st.caption(str(err))
        continue
    if not len(rows):
        st.caption(f"marts.{table}: no rows in the last {queries.OBS_NIGHTS} nights.")
        continue
    ui.exact_table(rows)
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
