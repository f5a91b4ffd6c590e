"""Bias on what we actually serve: tonight's recommendations and tonight's published plans.

For the business and the law: the challenger's bias rule (`monitoring.bias`) judges a model before it
serves; these measures judge what users were given, whichever model or planner produced it, including what
happened after the ranking (a filter that emptied one group's lists, a planner that falls back more often
for one region). Per protected attribute (gender, age band, region from `marts_build.dim_users`) and group,
aggregated inside PostgreSQL (tier M serves 100k users x 20 ranks x 2 item types: nothing row-level
leaves the database), then judged by `bias.judge`, the challenger's four-fifths rule with the same
small-group and standard-error guards:

- surface `recommendations_jobs` / `recommendations_modules`, tonight's lists, no labels needed, over every
  user served tonight (either item type: a user with jobs and no modules counts, with an empty list):
  `full_list_share` (ruled; the selection-rate analogue: share of the group's users whose top k is full,
  k = the night's longest list when the scorer keeps fewer than k), `list_exposure` (ruled: the
  position-weighted attention 1 / log2(1 + rank) of the user's top k, as a share of a full list's) and
  `items_served` (reported: the list length, which the two above already rule);
- surface `recommendations_jobs_judged` / `..._modules_judged`, the previous night's lists judged by the
  interactions that arrived since (the per-user figures of `monitoring.quality`, the night's ranking
  quality): `selection_rate` (ruled: an engaged-with item in the top k), `exposure` (ruled: the attention
  the engaged-with items got, as a share of all of them on top) and `ndcg10` (reported), over the judged
  users (served, and interacted since);
- surface `plans`, the plans `marts_build.user_plans` publishes tonight (each user's current plan):
  `hours_planned` (ruled: sum of the plan's module hours; every plan is built under the same weekly-hours
  x horizon budget, so a group offered less than four fifths of the best group's learning time, beyond
  noise, is planned for less), `provider_share` (ruled: share not written by a fallback, i.e. neither a
  `fallback_reason` nor an expired review; 1 for everyone on offline nights), `fallback_share` (reported:
  the same figure as the issue names it, lower is better, so not a four-fifths ratio) and
  `modules_offered` (reported: a count that depends on module lengths; hours measure the offer, and ruling
  both would count one shortfall twice).

Where they gate is `monitoring.gates`: served lists warn on the marts verdict (they cannot be un-served),
plans go to `plans_gate`.

Cost (`benchmarks/bench_served_bias.py`, tier M: 100k users, 4M served rows tonight and 4M yesterday, 60k
labels, 100k plans; embedded PostgreSQL 16 on 2 cores at load average 7.5): tonight's lists 5.9 s (both
item types), yesterday's judged 4.1 s, plans 1.6 s.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from core.database import PgParams, connect, relation_exists
from monitoring.bias import BiasConfig, BiasResult, judge, protected_columns
from monitoring.quality import JUDGED_USERS_SQL, TABLES

SERVED_RULED, SERVED_REPORTED = ("full_list_share", "list_exposure"), ("items_served",)
JUDGED_RULED, JUDGED_REPORTED = ("selection_rate", "exposure"), ("ndcg10",)
PLANS_RULED, PLANS_REPORTED = ("hours_planned", "provider_share"), ("modules_offered", "fallback_share")

# The users' protected attributes, one row per user; `{by_attribute}` fans each measured unit out to one
# row per attribute, so one pass groups by every attribute at once.
USERS_CTE = """
users as (
    select distinct on (user_key) user_key, {columns} from marts_build.dim_users order by user_key
)
"""

# One row per user served tonight from `{table}`: list length, top rank, items in the top k, attention.
PER_USER_LIST = """
    select user_key, count(*) as items, max(rank) as top_rank,
           count(*) filter (where rank <= %(k)s) as in_top,
           coalesce(sum(ln(2::float8) / ln(rank + 1::float8)) filter (where rank <= %(k)s), 0) as attention
    from {table}
    where as_of_date = %(as_of)s
    group by 1
"""

# Both item types in one pass: each table is aggregated per user (2M rows to 100k at tier M) before
# anything is joined; a user served one item type and not the other counts for it with an empty list.
SERVED_SQL = """
with jobs as ({jobs}),
modules as ({modules}),
-- a full list tonight: the top k, or the night's longest list when the scorer keeps fewer than k
cut as (
    select 'job' as item_type, least(%(k)s, max(top_rank)) as k from jobs
    union all
    select 'module', least(%(k)s, max(top_rank)) from modules
),
ideal as (
    select c.item_type, c.k, sum(ln(2::float8) / ln(r + 1::float8)) as attention
    from cut as c
    cross join lateral generate_series(1, c.k) as r
    group by 1, 2
),
lists as (
    select coalesce(j.user_key, m.user_key) as user_key, l.item_type, l.items, l.in_top, l.attention
    from jobs as j
    full join modules as m on m.user_key = j.user_key
    cross join lateral (
        values ('job', coalesce(j.items, 0), coalesce(j.in_top, 0), coalesce(j.attention, 0)),
               ('module', coalesce(m.items, 0), coalesce(m.in_top, 0), coalesce(m.attention, 0))
    ) as l (item_type, items, in_top, attention)
),
{users}
select
    u.item_type,
    a.attribute,
    coalesce(a.group_value, 'unknown') as group_value,
    count(*) as n,
    avg((u.in_top >= i.k)::int)::float8 as full_list_share,
    avg(u.attention / i.attention) as list_exposure,
    stddev_samp(u.attention / i.attention) as list_exposure_sd,
    avg(u.items)::float8 as items_served
from lists as u
join ideal as i on i.item_type = u.item_type  -- an item type served to nobody tonight has no cut
left join users as d on d.user_key = u.user_key
cross join lateral (values {by_attribute}) as a (attribute, group_value)
group by 1, 2, 3
"""

JUDGED_SQL = (
    JUDGED_USERS_SQL
    + """,
{users}
select
    a.attribute,
    coalesce(a.group_value, 'unknown') as group_value,
    count(*) as n,
    avg(p.hit)::float8 as selection_rate,
    avg(p.exposure) as exposure,
    stddev_samp(p.exposure) as exposure_sd,
    avg(p.ndcg10)::float8 as ndcg10
from per_user as p
left join users as d on d.user_key = p.user_key
cross join lateral (values {by_attribute}) as a (attribute, group_value)
group by 1, 2
"""
)

PLANS_SQL = """
with published as (
    select
        p.user_key,
        coalesce(p.plan -> 'modules', '[]'::jsonb) as modules,
        -- a fallback: the offline plan replaced the night's provider, or a review that expired
        (p.status = 'expired_fallback' or v.fallback_reason is not null) as fallback
    from marts_build.user_plans as p
    left join plans.plan_versions as v on v.plan_id = p.plan_id
    where p.as_of_date = %(as_of)s
),
-- materialized: each plan's modules are read once, not once per attribute and aggregate
per_plan as materialized (
    select
        user_key,
        jsonb_array_length(modules) as modules_offered,
        coalesce((select sum((m ->> 'hours')::float8) from jsonb_array_elements(modules) as m), 0)
            as hours_planned,
        fallback::int as fallback
    from published
),
{users}
select
    a.attribute,
    coalesce(a.group_value, 'unknown') as group_value,
    count(*) as n,
    avg(p.hours_planned) as hours_planned,
    stddev_samp(p.hours_planned) as hours_planned_sd,
    1 - avg(p.fallback)::float8 as provider_share,
    avg(p.fallback)::float8 as fallback_share,
    avg(p.modules_offered)::float8 as modules_offered
from per_plan as p
left join users as d on d.user_key = p.user_key
cross join lateral (values {by_attribute}) as a (attribute, group_value)
group by 1, 2
"""


def served_lists(params: PgParams, as_of: date, config: BiasConfig | None = None) -> list[BiasResult]:
    """Tonight's recommendation lists, by group (no labels needed): one result per item type."""
    config = config or BiasConfig()
    attributes: list[str] = []
    frame = pd.DataFrame(columns=["item_type"])
    with connect(params) as conn:
        served = {t: _has_rows(conn, table, as_of) for t, table in TABLES.items()}
        if any(served.values()):
            attributes = _attributes(conn, config)
            lists = {f"{t}s": PER_USER_LIST.format(table=table) for t, table in TABLES.items()}
            sql = SERVED_SQL.format(**lists, **_group_sql(attributes))
            frame = _frame(conn, sql, {"as_of": as_of, "k": config.k})
    out = []
    for item_type, has_rows in served.items():
        surface, result = f"recommendations_{item_type}s", BiasResult(as_of)
        out.append(result)
        if not has_rows:
            result.reasons.append(f"{surface}: nothing served for {as_of}, not evaluated")
            continue
        part = frame[frame["item_type"] == item_type].drop(columns="item_type")
        _judge_all(result, surface, part, attributes, SERVED_RULED, SERVED_REPORTED, config, "users")
    return out


def judged_lists(params: PgParams, served: date, label_start: date, label_end: date, as_of: date,
                 config: BiasConfig | None = None) -> list[BiasResult]:  # fmt: skip
    """The lists served for `served`, judged by the interactions of [label_start, label_end], by group;
    recorded as of `as_of` (the night that judged them). One result per item type."""
    config = config or BiasConfig()
    out = []
    with connect(params) as conn:
        labelled = relation_exists(conn, "features.interaction_labels")
        for item_type, table in TABLES.items():
            surface, result = f"recommendations_{item_type}s_judged", BiasResult(as_of)
            out.append(result)
            if not labelled or not _has_rows(conn, table, served):
                result.reasons.append(f"{surface}: no list served for {served} or no labels, not evaluated")
                continue
            attributes = _attributes(conn, config)
            sql = JUDGED_SQL.format(table=table, **_group_sql(attributes))
            args = {"served": served, "item_type": item_type, "label_start": label_start,
                    "label_end": label_end, "k": config.k}  # fmt: skip
            frame = _frame(conn, sql, args)
            _judge_all(result, surface, frame, attributes, JUDGED_RULED, JUDGED_REPORTED, config,
                       "judged users")  # fmt: skip
    return out


def published_plans(params: PgParams, as_of: date, config: BiasConfig | None = None) -> BiasResult:
    """The plans `marts_build.user_plans` holds for `as_of` (each user's current plan), by group."""
    config = config or BiasConfig()
    result = BiasResult(as_of)
    with connect(params) as conn:
        if not _has_rows(conn, "marts_build.user_plans", as_of):  # _has_rows: False when it does not exist
            result.reasons.append(f"plans: no plans published for {as_of}, not evaluated")
            return result
        attributes = _attributes(conn, config)
        frame = _frame(conn, PLANS_SQL.format(**_group_sql(attributes)), {"as_of": as_of})
    _judge_all(result, "plans", frame, attributes, PLANS_RULED, PLANS_REPORTED, config, "plans")
    return result


def _judge_all(
    result: BiasResult,
    surface: str,
    frame: pd.DataFrame,
    attributes: list[str],
    ruled: tuple[str, ...],
    reported: tuple[str, ...],
    config: BiasConfig,
    unit: str,
) -> None:
    for attribute in config.attributes:
        if attribute not in attributes:
            result.reasons.append(f"{surface}: {attribute} not available, not evaluated")
            continue
        stats = frame[frame["attribute"] == attribute].drop(columns="attribute").set_index("group_value")
        if not stats.empty:
            judge(result, surface, attribute, stats, ruled, reported, config, unit)


def _attributes(conn, config: BiasConfig) -> list[str]:
    """The configured protected attributes `marts_build.dim_users` has (raises when it is missing).
    Names come from PROTECTED_ATTRIBUTES only: safe to place in the SQL text."""
    present = protected_columns(conn)
    return [a for a in config.attributes if a in present]


def _group_sql(attributes: list[str]) -> dict[str, str]:
    if not attributes:
        raise RuntimeError("marts_build.dim_users has no protected attribute: bias not shown")
    return {
        "users": USERS_CTE.format(columns=", ".join(attributes)).strip(),
        "by_attribute": ", ".join(f"('{a}', d.{a}::text)" for a in attributes),
    }


def _frame(conn, sql: str, args: dict) -> pd.DataFrame:
    cur = conn.execute(sql, args)
    columns = [c.name for c in cur.description or []]
    frame = pd.DataFrame(cur.fetchall(), columns=columns)
    numeric = [c for c in columns if c not in ("item_type", "attribute", "group_value")]
    frame[numeric] = frame[numeric].astype(float)
    return frame


def _has_rows(conn, table: str, day: date) -> bool:
    if not relation_exists(conn, table):
        return False
    row = conn.execute(f"select exists (select from {table} where as_of_date = %s)", (day,)).fetchone()
    return bool(row and row[0])
