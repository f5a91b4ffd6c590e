"""Ranking quality as labels arrive: were yesterday's served recommendations what users went on to do?

For the business: a champion decays silently (new jobs, new users, a changed market) long before the next
challenger is trained and compared. Each night, the recommendations served for the previous as-of date are
scored against the interactions that have arrived since (`features.interaction_labels`, graded: apply 3 >
save 2 > view 1, complete 3 > progress 2 > start 1), in PostgreSQL:

- NDCG@10 with gains 2^grade - 1, ideal order = the user's interactions by grade;
- recall = share of the user's interacted items that were in the served list;

both averaged over the served users who interacted with at least one item of that type (a user who did
nothing tells us nothing about the order). The same per-user figures, by protected group, are the
judged-list bias of `monitoring.served_bias`. One row per (as-of date, item type, model version) in
`monitoring.ranking_quality`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from core.database import PgParams, connect, relation_exists

TABLES = {"job": "marts_build.recommendations_jobs", "module": "marts_build.recommendations_modules"}

# One row per judged user (a served user who interacted with at least one item of the type since): the
# figures the night averages here and, by protected group, in `monitoring.served_bias`.
JUDGED_USERS_SQL = """
with day_labels as (
    select user_key, item_id, max(grade) as grade
    from features.interaction_labels
    where item_type = %(item_type)s and event_date between %(label_start)s and %(label_end)s
    group by 1, 2
),
-- Only the lists of users who interacted: the night's few thousand, not its 100k lists (tier M).
served as (
    select user_key, item_id, rank, model_version from {table}
    where as_of_date = %(served)s and user_key in (select user_key from day_labels)
),
labels as (
    select * from day_labels where user_key in (select user_key from served)
),
-- Discounts in float8 (1 / log2(1 + rank)): numeric logarithms cost seconds on a night's rows.
judged as (
    select
        s.user_key,
        min(s.model_version) as model_version,
        coalesce(sum((2 ^ l.grade::float8 - 1) * ln(2::float8) / ln(s.rank + 1::float8))
            filter (where s.rank <= 10), 0) as dcg,
        count(l.item_id) as hits,
        count(l.item_id) filter (where s.rank <= %(k)s) as hits_top_k,
        -- the attention (1 / log2(1 + rank)) the engaged-with items got in the top k
        coalesce(
            sum(ln(2::float8) / ln(s.rank + 1::float8))
                filter (where s.rank <= %(k)s and l.item_id is not null),
            0
        ) as attention
    from served as s
    left join labels as l on l.user_key = s.user_key and l.item_id = s.item_id
    group by 1
),
ideal as (
    select user_key, count(*) as n_rel,
           sum((2 ^ grade::float8 - 1) * ln(2::float8) / ln(pos + 1::float8))
               filter (where pos <= 10) as idcg,
           -- all engaged-with items on top: the most attention they could have had
           sum(ln(2::float8) / ln(pos + 1::float8)) filter (where pos <= %(k)s) as ideal_attention
    from (
        select user_key, grade,
               row_number() over (partition by user_key order by grade desc, item_id) as pos
        from labels
    ) as ranked
    group by 1
),
per_user as (
    select
        j.user_key,
        j.model_version,
        j.dcg / nullif(i.idcg, 0) as ndcg10,
        j.hits::float8 / i.n_rel as recall,
        (j.hits_top_k > 0)::int as hit,
        j.attention / i.ideal_attention as exposure
    from judged as j
    join ideal as i on i.user_key = j.user_key
)
"""

QUALITY_SQL = (
    JUDGED_USERS_SQL
    + """
select model_version, avg(ndcg10), avg(recall), count(*)
from per_user
group by 1
"""
)


@dataclass(frozen=True)
class RankingQuality:
    as_of_date: date
    item_type: str
    model_version: str
    ndcg10: float | None
    recall: float | None
    users: int
    label_date: date


def served_quality(params: PgParams, served: date, label_start: date, label_end: date | None = None
                   ) -> list[RankingQuality]:  # fmt: skip
    """Score the recommendations served for `served` against interactions in [label_start, label_end]."""
    label_end = label_end or label_start
    out: list[RankingQuality] = []
    with connect(params) as conn:
        if not relation_exists(conn, "features.interaction_labels"):
            return out
        for item_type, table in TABLES.items():
            if not relation_exists(conn, table):
                continue
            rows = conn.execute(
                QUALITY_SQL.format(table=table),
                {
                    "served": served,
                    "item_type": item_type,
                    "label_start": label_start,
                    "label_end": label_end,
                    "k": 10,
                },
            ).fetchall()
            out += [
                RankingQuality(served, item_type, str(version), ndcg, recall, int(users), label_end)
                for version, ndcg, recall, users in rows
            ]
    return out


def record(params: PgParams, run_id: str, rows: list[RankingQuality]) -> int:
    """Upsert the night's figures (a re-run replaces them)."""
    with connect(params) as conn, conn.cursor() as cur:
        cur.executemany(
            "insert into monitoring.ranking_quality (as_of_date, item_type, model_version, ndcg10, recall,"
            " users, label_date, run_id) values (%s, %s, %s, %s, %s, %s, %s, %s)"
            " on conflict (as_of_date, item_type, model_version) do update set ndcg10 = excluded.ndcg10,"
            " recall = excluded.recall, users = excluded.users, label_date = excluded.label_date,"
            " run_id = excluded.run_id, recorded_at = now()",
            [(r.as_of_date, r.item_type, r.model_version, r.ndcg10, r.recall, r.users, r.label_date, run_id)
             for r in rows],
        )  # fmt: skip
    return len(rows)
