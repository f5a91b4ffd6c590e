"""Drift: has what the model sees, what it outputs, or what arrives changed since the reference window?

For the business: a ranker trained on last week's world should not be promoted if tonight's inputs no
longer look like that world, and a dashboard whose inputs moved should say so. Each night compares
tonight (the as-of date) with a reference window of the days before it, per dataset and segment:

- `pair_features` (segments job, module): the ranking features of the night's candidate pairs, the model's
  inputs: a drifted CRITICAL column refuses the challenger;
- `scores` (job, module): the served scores and the top-k composition (level, category), of the latest
  served date on or before tonight (the gate runs before tonight's scoring);
- `signals`: the event mix by type, the skills in new resumes and in new postings;
- `plans` (when the plans stage exists): provider, fallback share, tokens and cost per plan.

Samples are drawn inside PostgreSQL, at most `sample_rows` per side: a side of up to twice that many rows
exactly (whole users, by a hash of the key, so a query's candidates stay together), a larger one as a
repeatable block sample (`tablesample system ... repeatable`) cut in the same user-hash order, so the
cost of a side is O(sample), not O(day) (`_block_sample`). Every column has an explicit method and
threshold: Evidently's automatic choice switches from p-value tests to distances with sample size, and
p-values flag tiny shifts on large samples (stack-notes, evidently#50), so we use distances whose
meaning does not depend on n: normed Wasserstein for numbers, Jensen-Shannon for categories, drift when
the distance >= threshold.
One Evidently report per segment (GroupBy returns overall values for most metrics); results are rows in
`monitoring.drift_results` and one HTML file per night holds every segment's report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from core.database import PgParams, connect, relation_exists

Kind = Literal["num", "cat"]
METHODS = {"num": "wasserstein", "cat": "jensenshannon"}


@dataclass(frozen=True)
class ColumnTest:
    """One column's drift test: method and threshold fixed, and whether a drift gates what it feeds."""

    column: str
    kind: Kind = "num"
    threshold: float = 0.1
    critical: bool = False
    method: str | None = None  # default: METHODS[kind]

    @property
    def stattest(self) -> str:
        return self.method or METHODS[self.kind]


# Model inputs (ml.features.PAIR_FEATURES). Critical: a challenger trained on a world its inputs no longer
# describe is not promoted. Thresholds are normed Wasserstein distances (shift in reference standard
# deviations). Features that move by construction every day get a wider band and only warn:
# item_age_days and the activity windows grow while the platform's history is shorter than their window.
PAIR_FEATURE_TESTS = (
    ColumnTest("retrieval_score", critical=True, threshold=0.25),
    ColumnTest("skill_overlap_count", critical=True, threshold=0.25),
    ColumnTest("skill_overlap_weighted", critical=True, threshold=0.25),
    ColumnTest("gap_coverage", critical=True, threshold=0.25),
    ColumnTest("level_gap", critical=True, threshold=0.25),
    ColumnTest("location_match", critical=True, threshold=0.25),
    ColumnTest("item_popularity_7d", threshold=0.5),
    ColumnTest("user_activity_28d", threshold=0.5),
    ColumnTest("category_interest_28d", threshold=0.5),
    ColumnTest("days_since_category_interest", threshold=0.5),
    ColumnTest("user_item_prior_interactions", threshold=0.5),
    ColumnTest("item_age_days", threshold=0.5),
)
SCORE_TESTS = (
    ColumnTest("score", threshold=0.25),
    ColumnTest("item_level", "cat", threshold=0.2),
    ColumnTest("item_category", "cat", threshold=0.2),
)
SIGNAL_TESTS = (ColumnTest("value", "cat", threshold=0.2),)
PLAN_TESTS = (
    ColumnTest("provider", "cat", threshold=0.2),
    ColumnTest("fallback", "cat", threshold=0.2),
    ColumnTest("tokens_out", threshold=0.5),
    ColumnTest("cost_usd", threshold=0.5),
)


@dataclass(frozen=True)
class DriftConfig:
    """The reference window and sample sizes (per side, per segment)."""

    reference_days: int = 7
    sample_rows: int = 20_000
    sample_seed: int = 7  # REPEATABLE seed of the block samples (`_block_sample`): the same blocks nightly
    min_rows: int = 50  # fewer rows on either side: the segment is reported as not testable
    # A young platform's model inputs move by construction (users' skills gain interaction evidence,
    # activity windows fill): on the generator's 10-day world the skill-overlap features drifted 0.45-0.67
    # night over night, on its 21-day world 0.13-0.16 (exact user samples: the reference week's held ~35
    # users; the block sample of the same night spreads over ~290 and reads 0.01-0.07). Until the first
    # as-of date is this many days old, input drift is recorded and warns but does not gate.
    warmup_days: int = 14
    pair_feature_tests: tuple[ColumnTest, ...] = PAIR_FEATURE_TESTS
    score_tests: tuple[ColumnTest, ...] = SCORE_TESTS
    signal_tests: tuple[ColumnTest, ...] = SIGNAL_TESTS
    plan_tests: tuple[ColumnTest, ...] = PLAN_TESTS


@dataclass
class DriftRow:
    dataset: str
    segment: str
    column_name: str
    method: str
    statistic: float | None
    threshold: float
    drifted: bool
    critical: bool
    reference_rows: int
    current_rows: int


@dataclass
class DriftResult:
    """The night's drift tests, and the single HTML report holding every segment."""

    as_of_date: date
    rows: list[DriftRow] = field(default_factory=list)
    report_path: Path | None = None
    skipped: list[str] = field(default_factory=list)  # segments not testable tonight, with the reason

    def failed(self, critical_only: bool = True) -> list[DriftRow]:
        return [r for r in self.rows if r.drifted and (r.critical or not critical_only)]


# ------------------------------------------------------------------------------------------ sampling SQL


def _columns(conn, relation: str) -> set[str]:
    schema, table = relation.split(".")
    rows = conn.execute(
        "select column_name from information_schema.columns where table_schema = %s and table_name = %s",
        (schema, table),
    ).fetchall()
    return {r[0] for r in rows}


def _user_sample(key: str, share: float) -> str:
    """A deterministic predicate keeping about `share` of users (all rows of a kept user)."""
    cut = max(1, min(65536, round(share * 65536)))
    return f"(hashtext({key}) & 65535) < {cut}"


def _sample_share(conn, relation: str, where: str, args: tuple, rows: int) -> float:
    total = conn.execute(f"select count(*) from {relation} as t where {where}", args).fetchone()[0]
    return 1.0 if total <= rows else rows / total


def _frame(conn, sql: str, args: tuple, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(sql, args).fetchall(), columns=columns)


def _plan(conn, sql: str, args: tuple) -> tuple[float, float]:
    """The planner's (rows, total cost) for `sql`: from the table's statistics, nothing is read."""
    plan = conn.execute(f"explain (format json) {sql}", args).fetchone()[0][0]["Plan"]
    return float(plan["Plan Rows"]), float(plan["Total Cost"])


def _tablesample(share: float, config: DriftConfig) -> str:
    return f"tablesample system ({share:.6f}) repeatable ({config.sample_seed})"


def _block_sample(conn, relation: str, where: str, args: tuple, config: DriftConfig, scans: int
                  ) -> float | None:  # fmt: skip
    """The share p (percent of pages) of a `tablesample system (p) repeatable (seed)` drawing about twice
    `sample_rows` of the rows matching `where`, when the planner says reading those blocks is cheaper than
    the `scans` passes over every matching row the exact sample makes; None otherwise (small sides keep
    the exact sample).

    Why: the exact sample counts the side's rows, then filters them all by the user hash, so its cost
    grows with the day (at tier M ~12M pair rows per as-of date, 84M in the reference week: drift took
    25.1 s a night, its Evidently reports ~3 s). A block sample reads p% of the table's pages, p set so
    that ~2 x sample_rows of the side's rows come back: O(sample), whatever the day's size. The caller
    keeps the lowest `hashtext(user key)` first, so the cut is by user as in the exact sample.
    """
    rows, exact_cost = _plan(conn, f"select 1 from {relation} as t where {where}", args)
    if rows <= 2 * config.sample_rows:
        return None
    share = min(100.0, 100.0 * 2 * config.sample_rows / rows)
    clause = _tablesample(share, config)
    _, block_cost = _plan(conn, f"select 1 from {relation} as t {clause} where {where}", args)
    return share if block_cost < scans * exact_cost else None


def _block_rows(conn, sql_for: Any, relation: str, where: str, args: tuple, config: DriftConfig,
                scans: int) -> list | None:  # fmt: skip
    """Rows of the block sample (`sql_for(clause)` builds the query), None when the exact sample is
    cheaper. When the planner overestimated the side, fewer than `sample_rows` come back: the share
    grows (SYSTEM keeps a block when its hash is below the share, so a larger share adds blocks)."""
    share = _block_sample(conn, relation, where, args, config, scans)
    if share is None:
        return None
    while True:
        rows = conn.execute(sql_for(_tablesample(share, config)), args).fetchall()
        if len(rows) >= config.sample_rows or share >= 100.0:
            return rows
        share = min(100.0, share * min(10.0, 1.5 * config.sample_rows / max(len(rows), 1)))


def _two_sides(conn, relation: str, select: str, date_col: str, day: date, config: DriftConfig,
               segment_where: str = "true", key: str = "user_key", joins: str = "",
               columns: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Reference (the `reference_days` before `day`) and current (`day`) samples, drawn in PostgreSQL.

    A side with at most 2 x `sample_rows` rows (or where the planner finds it cheaper) is sampled
    exactly: the users whose key hash falls below the share that yields `sample_rows`. A larger side
    is a block sample (`_block_sample`), its users kept in key-hash order up to `sample_rows`.
    """
    ref_start = day - timedelta(days=config.reference_days)
    out = []
    for where, args in (
        (f"{date_col} >= %s and {date_col} < %s and {segment_where}", (ref_start, day)),
        (f"{date_col} = %s and {segment_where}", (day,)),
    ):
        rows = _block_rows(
            conn,
            lambda clause, where=where: (
                f"select {select} from {relation} as t {clause} {joins} where {where} "
                f"order by hashtext({key}), t.ctid limit {config.sample_rows}"
            ),
            relation, where, args, config, scans=2,
        )  # fmt: skip
        if rows is not None:
            out.append(pd.DataFrame(rows, columns=columns or []))
            continue
        share = _sample_share(conn, relation, where, args, config.sample_rows)
        sql = (
            f"select {select} from {relation} as t {joins} where {where} and {_user_sample(key, share)} "
            f"limit {config.sample_rows}"
        )
        out.append(_frame(conn, sql, args, columns or []))
    return out[0], out[1]


def _pair_feature_samples(conn, day: date, config: DriftConfig):
    relation = "features.candidate_pair_features"
    if not relation_exists(conn, relation):
        return
    present = _columns(conn, relation)
    tests = [t for t in config.pair_feature_tests if t.column in present]
    names = [t.column for t in tests]
    first = conn.execute(f"select min(as_of_date) from {relation}").fetchone()[0]
    if first is not None and (day - first).days < config.warmup_days:
        tests = [replace(t, critical=False) for t in tests]
    for segment in ("job", "module"):
        ref, cur = _two_sides(
            conn, relation, ", ".join(f"t.{c}::float8" for c in names), "t.as_of_date", day, config,
            segment_where=f"t.item_type = '{segment}'", key="t.user_key", columns=names,
        )  # fmt: skip
        yield "pair_features", segment, tests, ref, cur


def _score_samples(conn, day: date, config: DriftConfig):
    for segment, table, dim, id_col, level, category in (
        ("job", "marts_build.recommendations_jobs", "marts_build.dim_jobs", "job_id", "job_level",
         "category"),
        ("module", "marts_build.recommendations_modules", "marts_build.dim_learning_modules", "module_id",
         "level", "provider"),
    ):  # fmt: skip
        if not relation_exists(conn, table):
            continue
        joins, lvl, cat = "", "null::text", "null::text"
        if relation_exists(conn, dim) and {id_col, level, category} <= _columns(conn, dim):
            joins = f"left join {dim} as d on d.{id_col} = t.item_id"
            lvl, cat = f"d.{level}::text", f"d.{category}::text"
        names = ["score", "item_level", "item_category"]
        # The gate runs before tonight's scoring: the latest served date on or before tonight is judged
        # (last night's recommendations, against the reference window before them).
        served = conn.execute(
            f"select max(as_of_date) from {table} where as_of_date <= %s", (day,)
        ).fetchone()[0]
        if served is None:
            continue
        ref, cur = _two_sides(
            conn, table, f"t.score::float8, {lvl}, {cat}", "t.as_of_date", served, config,
            key="t.user_key", joins=joins, columns=names,
        )  # fmt: skip
        tests = [
            t for t in config.score_tests if not (ref[t.column].isna().all() and cur[t.column].isna().all())
        ]
        yield "scores", segment, tests, ref, cur


def _signal_samples(conn, day: date, config: DriftConfig):
    """Categorical input signals: one column `value` per segment."""
    queries = []
    if relation_exists(conn, "raw.interaction_events"):
        queries.append(("event_mix", "raw.interaction_events", "t.event_type", "t.occurred_at::date"))
    if relation_exists(conn, "raw.resumes"):
        queries.append(("resume_skills", "raw.resumes",
                        "unnest(string_to_array(t.skills, ';'))", "t._partition_date"))  # fmt: skip
    if relation_exists(conn, "raw.job_postings"):
        queries.append(("posting_skills", "raw.job_postings",
                        "unnest(string_to_array(t.required_skills, ';'))", "t._partition_date"))  # fmt: skip
    ref_start = day - timedelta(days=config.reference_days)
    for segment, table, expr, day_expr in queries:
        sides = []
        for where, args in ((f"{day_expr} >= %s and {day_expr} < %s", (ref_start, day)),
                            (f"{day_expr} = %s", (day,))):  # fmt: skip
            # Events are read through a range on occurred_at (the BRIN index), rows sampled by id hash.
            if segment == "event_mix":
                lo, hi = (args[0], args[1]) if len(args) == 2 else (day, day + timedelta(days=1))
                where, args = "t.occurred_at >= %s and t.occurred_at < %s", (lo, hi)

            def sql_for(clause: str, table=table, expr=expr, where=where) -> str:
                return (
                    f"select value from (select {expr} as value from {table} as t {clause} where {where} "
                    f"order by hashtext(t._file_id::text || ':' || t._line::text), t.ctid "
                    f"limit {config.sample_rows}) s where value is not null and value <> ''"
                )

            # The events of the reference week (~7M at tier M) are block-sampled (`_block_sample`);
            # resumes and postings (a few hundred a day) are read whole and cut by the row hash.
            rows = _block_rows(conn, sql_for, table, where, args, config, scans=1)
            if rows is None:
                rows = conn.execute(sql_for(""), args).fetchall()
            sides.append(pd.DataFrame(rows, columns=["value"]))
        yield "signals", segment, list(config.signal_tests), sides[0], sides[1]


def _plan_samples(conn, day: date, config: DriftConfig):
    if not relation_exists(conn, "plans.plan_versions"):
        return
    names = ["provider", "fallback", "tokens_out", "cost_usd"]
    ref, cur = _two_sides(
        conn, "plans.plan_versions",
        "coalesce(t.provider, 'none'), (t.fallback_reason is not null)::text, t.tokens_out::float8, "
        "t.cost_usd::float8", "t.as_of_date", day, config, columns=names, key="t.user_key",
    )  # fmt: skip
    yield "plans", "all", list(config.plan_tests), ref, cur


# ------------------------------------------------------------------------------------------- Evidently


def _evidently_report(ref: pd.DataFrame, cur: pd.DataFrame, tests: list[ColumnTest]):
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift

    definition = DataDefinition(
        numerical_columns=[t.column for t in tests if t.kind == "num"],
        categorical_columns=[t.column for t in tests if t.kind == "cat"],
    )
    report = Report(
        [ValueDrift(column=t.column, method=t.stattest, threshold=t.threshold) for t in tests],
        include_tests=True,
    )
    cols = [t.column for t in tests]
    for frame in (ref, cur):
        for t in tests:
            if t.kind == "cat":
                frame[t.column] = frame[t.column].astype(str)
    return report.run(
        current_data=Dataset.from_pandas(cur[cols], data_definition=definition),
        reference_data=Dataset.from_pandas(ref[cols], data_definition=definition),
    )


def _read_snapshot(snapshot, tests: list[ColumnTest]) -> dict[str, tuple[float, bool]]:
    """Per column: Evidently's statistic and its test verdict (FAIL = drifted)."""
    data = snapshot.dict()
    by_metric = {m["id"]: m for m in data["metrics"]}
    out = {}
    for test in data["tests"]:
        metric = by_metric[test["metric_config"]["metric_id"]]
        out[metric["config"]["column"]] = (float(metric["value"]), test["status"] == "FAIL")
    missing = {t.column for t in tests} - set(out)
    if missing:
        raise RuntimeError(f"Evidently returned no drift test for columns {sorted(missing)}")
    return out


def write_html(snapshots: list[tuple[str, Any]], path: Path) -> Path:
    """One HTML page for the night: every segment's report as a titled section.

    An Evidently HTML file embeds its ~5 MB UI bundle; rendering all segments' widgets into one page
    keeps one bundle per night instead of one per segment (Snapshot.get_html_str does the same for one).
    """
    from evidently.core.metric_types import render_widgets
    from evidently.legacy.renderers.html_widgets import group_widget

    widgets = []
    for title, snap in snapshots:
        widgets.append(group_widget(title=title, widgets=snap._widgets))
        widgets.extend(snap._tests_widgets)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_widgets(widgets, as_iframe=False), encoding="utf-8")
    return path


def _testable(dataset: str, segment: str, tests, ref: pd.DataFrame, cur: pd.DataFrame, min_rows: int,
              skipped: list[str]) -> list[ColumnTest]:  # fmt: skip
    """Numbers as floats (NULL -> NaN); a column with fewer than `min_rows` values on a side is skipped
    with the reason (a feature that is NULL until a user has history, e.g. on the first nights)."""
    kept = []
    for t in tests:
        for frame in (ref, cur):
            if t.kind == "num":
                frame[t.column] = pd.to_numeric(frame[t.column], errors="coerce").astype("float64")
        counts = (int(ref[t.column].notna().sum()), int(cur[t.column].notna().sum()))
        if min(counts) < min_rows:
            skipped.append(f"{dataset}/{segment}/{t.column}: {counts[0]} reference and {counts[1]} current "
                           f"values (< {min_rows}): not testable tonight")  # fmt: skip
        else:
            kept.append(t)
    return kept


def compute_drift(
    params: PgParams, day: date, report_dir: Path | None, config: DriftConfig | None = None
) -> DriftResult:
    """Run every dataset's drift tests for `day`; write the night's HTML into `report_dir` (if given)."""
    config = config or DriftConfig()
    result = DriftResult(day)
    snapshots = []
    with connect(params) as conn:
        samples = [
            *_pair_feature_samples(conn, day, config),
            *_score_samples(conn, day, config),
            *_signal_samples(conn, day, config),
            *_plan_samples(conn, day, config),
        ]
    if any(not t.critical for ds, _, ts, _, _ in samples if ds == "pair_features" for t in ts) and not any(
        t.critical for ds, _, ts, _, _ in samples if ds == "pair_features" for t in ts
    ):
        result.skipped.append(
            f"pair_features: history shorter than {config.warmup_days} days (warm-up): input drift warns only"
        )
    for dataset, segment, tests, ref, cur in samples:
        tests = _testable(dataset, segment, tests, ref, cur, config.min_rows, result.skipped)
        if len(ref) < config.min_rows or len(cur) < config.min_rows or not tests:
            result.skipped.append(
                f"{dataset}/{segment}: {len(ref)} reference and {len(cur)} current rows "
                f"(< {config.min_rows}): not testable tonight"
            )
            continue
        snapshot = _evidently_report(ref, cur, tests)
        verdicts = _read_snapshot(snapshot, tests)
        for t in tests:
            statistic, drifted = verdicts[t.column]
            result.rows.append(
                DriftRow(dataset, segment, t.column, t.stattest, statistic, t.threshold, drifted, t.critical,
                         len(ref), len(cur))
            )  # fmt: skip
        snapshots.append((f"{dataset} / {segment}", snapshot))
    if report_dir is not None and snapshots:
        result.report_path = write_html(snapshots, Path(report_dir) / f"drift-{day.isoformat()}.html")
    return result


def record(params: PgParams, run_id: str, result: DriftResult) -> int:
    """Replace this run's drift rows for the day (idempotent re-run)."""
    with connect(params) as conn:
        conn.execute(
            "delete from monitoring.drift_results where run_id = %s and as_of_date = %s",
            (run_id, result.as_of_date),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "insert into monitoring.drift_results (run_id, as_of_date, dataset, segment, column_name,"
                " method, statistic, threshold, drifted, critical, report_path, reference_rows, current_rows)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [
                    (run_id, result.as_of_date, r.dataset, r.segment, r.column_name, r.method, r.statistic,
                     r.threshold, r.drifted, r.critical,
                     str(result.report_path) if result.report_path else None, r.reference_rows,
                     r.current_rows)
                    for r in result.rows
                ],
            )  # fmt: skip
    return len(result.rows)
