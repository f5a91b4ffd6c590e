"""Boards: the dashboards people meet the platform through (`make boards`, http://127.0.0.1:8501).

One Streamlit multipage app (`boards/app.py`):
- Executive: active users, the job funnel, learning, career tools and workforce mobility, per tenant
  and date range, from the published marts.
- Observability: one night at a time (a picker over the last 14; default the newest): its verdict,
  checks, quarantine, drift, bias, anomalies, freshness, model promotions, plan costs, and the waivers
  in force, from the published observability marts, with the 14 nights' trend above them.
- Review queue: plans waiting for a human, with why they were queued and a diff against the user's
  last approved plan; decisions go through the plans stage's API as role `kairoo_reviewer`.

Every page reads PostgreSQL as `kairoo_reader` (published `marts` only: never raw, vault or ops) and
carries a banner with the data's as-of date and the night's gate verdict. Users appear only as
pseudonymized keys. The SQL lives in `boards.queries` (pure, typed, tested); the pages only render.
This package never imports dagster.
"""
