"""Executive dashboard: active users, the job funnel, learning, career tools, workforce mobility.

Filters: a date range (the headline counts are totals over it; DAU/WAU/MAU are those of its last
day) and a segment (every user, direct users, or one enterprise tenant).
"""

from __future__ import annotations

from datetime import timedelta

import altair as alt
import streamlit as st

from boards import queries, ui

page = ui.Page("Executive dashboard")
try:
    first, last = ui.query("exec_bounds")
    choices = ui.query("segments")
except queries.NotPublished as err:
    page.not_published(err)

left, right = st.columns([2, 1])
with left:
    picked = st.date_input(
        "Date range",
        value=(max(first, last - timedelta(days=29)), last),
        min_value=first,
        max_value=last,
        key="exec_range",
    )
with right:
    segment = st.selectbox(
        "Segment",
        choices,
        key="exec_segment",
        help="Every user, users no tenant employs (direct), or one enterprise tenant.",
    )
if not isinstance(picked, tuple) or len(picked) != 2:
    st.info("Pick the last day of the range.")
    page.end()
    st.stop()
filters = queries.ExecFilters(picked[0], picked[1], segment)
figures = ui.query("exec_figures", filters)
trend = ui.query("exec_trend", filters)
tools = ui.query("tool_trend", filters)
mobility = ui.query("mobility", filters)

st.subheader(f"Active users on {filters.end}")
c = list(st.columns(3))
c[0].metric("DAU", ui.count(figures.dau))
c[1].metric("WAU", ui.count(figures.wau))
c[2].metric("MAU", ui.count(figures.mau))
long = trend.melt("activity_date", ["dau", "wau", "mau"], var_name="measure", value_name="users")
page.chart(alt.Chart(long, height=300).mark_line(point=True).encode(
    x=alt.X("activity_date:T", title="day"), y="users:Q", color="measure:N",
    tooltip=["activity_date:T", "measure:N", "users:Q"]), key="chart_active")  # fmt: skip

st.subheader(f"Job funnel, {filters.start} to {filters.end}")
c = list(st.columns(6))
c[0].metric("Job views", ui.count(figures.job_views))
c[1].metric("Job saves", ui.count(figures.job_saves))
c[2].metric("Job applications", ui.count(figures.job_applications))
c[3].metric("Save rate", ui.pct(figures.save_rate), help="Saves per job view.")
c[4].metric("Apply rate", ui.pct(figures.apply_rate), help="Applications per save.")
c[5].metric("View to apply", ui.pct(figures.view_to_apply_rate), help="Applications per job view.")
# No funnel chart: it drew these three counts again as bars, and each chart costs its page a few tenths
# of a second in the browser (bench_boards: the executive page was the slowest, at the 2 s goal).

st.subheader("Learning")
c = list(st.columns(4))
c[0].metric("Modules started", ui.count(figures.module_starts))
c[1].metric("Modules completed", ui.count(figures.module_completions))
c[2].metric("Completion rate", ui.pct(figures.completion_rate), help="Completions per start in the range.")
c[3].metric("Learning hours", ui.hours(figures.learning_hours))
learning = trend.melt("activity_date", ["module_starts", "module_completions"], var_name="measure",
                      value_name="modules")  # fmt: skip
page.chart(alt.Chart(learning, height=280).mark_bar().encode(
    x=alt.X("monthdate(activity_date):O", title="day"), xOffset="measure:N", y="modules:Q", color="measure:N",
    tooltip=["activity_date:T", "measure:N", "modules:Q"]), key="chart_learning")  # fmt: skip

st.subheader("Career tools")
c = list(st.columns(2))
c[0].metric("Tool sessions", ui.count(figures.tool_sessions))
c[1].metric("Interview coach sessions", ui.count(figures.interview_coach_sessions))
if len(tools):
    page.chart(alt.Chart(tools, height=280).mark_line(point=True).encode(
        x=alt.X("usage_date:T", title="day"), y="sessions:Q", color="tool_id:N",
        tooltip=["usage_date:T", "tool_id:N", "sessions:Q"]), key="chart_tools")  # fmt: skip

st.subheader("Workforce mobility")
if filters.segment == queries.DIRECT:
    st.caption("Direct users have no employer: mobility applies to enterprise tenants.")
else:
    c = list(st.columns(6))
    c[0].metric("Headcount", ui.count(mobility.headcount), help=f"Active employees on {filters.end}.")
    c[1].metric("Hires", ui.count(mobility.hires))
    c[2].metric("Terminations", ui.count(mobility.terminations))
    c[3].metric("Internal moves", ui.count(mobility.internal_moves),
                help="Department moves, promotions and lateral moves.")  # fmt: skip
    c[4].metric("Attrition rate", ui.pct(mobility.attrition_rate),
                help="Terminations per employee at the end.")  # fmt: skip
    c[5].metric("Internal mobility rate", ui.pct(mobility.internal_mobility_rate),
                help="Internal moves per employee at the end.")  # fmt: skip
    ui.exact_table(mobility.by_department, "mobility_by_department")

shown: dict[str, object] = {f"executive.{k}": v for k, v in figures.as_dict().items()}
if filters.segment != queries.DIRECT:
    shown |= {
        "mobility.headcount": mobility.headcount,
        "mobility.hires": mobility.hires,
        "mobility.terminations": mobility.terminations,
        "mobility.internal_moves": mobility.internal_moves,
        "mobility.attrition_rate": mobility.attrition_rate,
        "mobility.internal_mobility_rate": mobility.internal_mobility_rate,
    }
ui.figures_table(shown)
page.end()
