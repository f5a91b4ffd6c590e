"""Gates: one verdict per night from the recorded drift, bias and anomaly results, with named waivers.

What each gate protects, and what blocks it (everything else found only warns):

- `challenger_gate` (promotion of tonight's challenger) blocks when a critical drift test fails on a model
  input (`pair_features`) or the bias rule fails on the challenger;
- `marts_gate` (publication of the marts) blocks on an error-level anomaly of a source, quarantine rate or
  KPI, or a critical drift test on `signals` / `scores`;
- `plans_gate` (publication of plans) blocks on an error-level anomaly of plan costs, a critical drift
  test on `plans` or the bias rule failing on the published plans (`plans`);
- the bias rule failing on served recommendations (`recommendations_jobs`, `..._judged`) warns on the
  `marts_gate` verdict and never blocks (see `_bias_gate`).

A finding's subject names what failed (`pair_features/job/skill_overlap_weighted`, `source_volume/
interaction_events`, `challenger_jobs/gender/selection_rate`). A waiver in `monitoring.waivers` whose
`check_name` equals the finding's check (`drift`, `bias`, `anomaly`) and whose `pattern` (SQL LIKE)
matches its subject turns a block into a warn until `expires_on` (inclusive): a data team accepts a known
change by name, with an owner and a reason, for a bounded time. The gates read only what was recorded in
the monitoring tables for this run: a result that was not recorded cannot pass a gate.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase

from core.database import PgParams, connect
from monitoring.anomalies import PLAN_METRICS

GATES = ("challenger_gate", "marts_gate", "plans_gate")
CHECKS = ("drift", "bias", "anomaly")
MODEL_INPUT_DATASETS = ("pair_features",)
MART_DATASETS = ("signals", "scores")
PLAN_DATASETS = ("plans",)


@dataclass(frozen=True)
class Finding:
    """One failed test: which gate it concerns, whether it blocks, and why."""

    gate: str
    check: str  # drift | bias | anomaly
    subject: str
    blocking: bool
    message: str


@dataclass(frozen=True)
class Waiver:
    waiver_id: int
    check_name: str
    pattern: str
    owner: str
    reason: str
    expires_on: date

    def covers(self, finding: Finding, on: date) -> bool:
        # SQL LIKE semantics (% any run, _ one character), evaluated here on a handful of rows.
        glob = self.pattern.replace("*", "[*]").replace("?", "[?]").replace("%", "*").replace("_", "?")
        in_force = on <= self.expires_on
        return self.check_name == finding.check and in_force and fnmatchcase(finding.subject, glob)


@dataclass
class Verdict:
    """A gate's verdict for the night: what passed, warned, blocked, and which waivers applied."""

    gate: str
    as_of_date: date
    status: str  # pass | warn | block
    passed: list[str] = field(default_factory=list)
    warned: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    waivers: list[dict] = field(default_factory=list)

    @property
    def allows(self) -> bool:
        return self.status != "block"

    def detail(self) -> dict:
        return {
            "passed": self.passed,
            "warned": self.warned,
            "blocked": self.blocked,
            "waivers": self.waivers,
        }


def decide(
    gate: str, as_of: date, findings: list[Finding], tested: list[str], waivers: list[Waiver]
) -> Verdict:
    """The gate's verdict from its findings (`tested`: what was evaluated, to list what passed)."""
    mine = [f for f in findings if f.gate == gate]
    failed = {f.subject for f in mine}
    verdict = Verdict(gate, as_of, "pass", passed=sorted(s for s in tested if s not in failed))
    for f in mine:
        waiver = next((w for w in waivers if f.blocking and w.covers(f, as_of)), None)
        if f.blocking and waiver is None:
            verdict.blocked.append(f"{f.check}: {f.message}")
        elif waiver is not None:
            verdict.warned.append(f"{f.check}: {f.message} (waived by #{waiver.waiver_id}, {waiver.owner})")
            verdict.waivers.append(
                {"waiver_id": waiver.waiver_id, "owner": waiver.owner, "reason": waiver.reason,
                 "expires_on": waiver.expires_on.isoformat(), "subject": f.subject}
            )  # fmt: skip
        else:
            verdict.warned.append(f"{f.check}: {f.message}")
    verdict.status = "block" if verdict.blocked else "warn" if verdict.warned else "pass"
    return verdict


def _drift_gate(dataset: str) -> str:
    if dataset in MODEL_INPUT_DATASETS:
        return "challenger_gate"
    return "plans_gate" if dataset in PLAN_DATASETS else "marts_gate"


def _bias_gate(surface: str) -> tuple[str, bool]:
    """(gate, blocking) of a bias surface; every surface is routed by name, none falls through.

    Served recommendations warn on the marts verdict and never block: a served list cannot be un-served
    (`marts/recommendations_published` waits on its suites only, and yesterday's judged list is long
    out), and holding a publication would serve yesterday's list of the same model, no fairer. What a
    failed rule should change is the model, which the challenger gate judges before it serves, or a
    human decision.

    Plans warn on the plans verdict too: the night holds plans for an error-level anomaly or a critical
    drift on them (issue #14's rule), not for a bias ratio, whose remedy is the planner or a reviewer.
    """
    if surface.startswith("challenger"):
        return "challenger_gate", True
    if surface.startswith("plans"):
        return "plans_gate", False
    if surface.startswith("recommendations_"):
        return "marts_gate", False
    raise ValueError(f"bias surface {surface!r} has no gate: route it in monitoring.gates._bias_gate")


def findings(params: PgParams, run_id: str, as_of: date, start: date | None = None
             ) -> tuple[list[Finding], dict[str, list[str]]]:  # fmt: skip
    """Findings of this run (drift and bias on `as_of`, anomalies on [start, as_of]) and what was tested."""
    start = start or as_of
    out: list[Finding] = []
    tested: dict[str, list[str]] = {g: [] for g in GATES}
    with connect(params) as conn:
        for dataset, segment, column, method, stat, threshold, drifted, critical in conn.execute(
            "select dataset, segment, column_name, method, statistic, threshold, drifted, critical"
            " from monitoring.drift_results where run_id = %s and as_of_date = %s order by 1, 2, 3",
            (run_id, as_of),
        ):
            gate, subject = _drift_gate(dataset), f"{dataset}/{segment}/{column}"
            tested[gate].append(f"drift:{subject}")
            if drifted:
                out.append(Finding(gate, "drift", subject, bool(critical),
                                   f"{subject} {method} {stat:.3f} >= {threshold:g}"
                                   + (" (critical)" if critical else "")))  # fmt: skip
        for surface, attribute, group, metric, value, ratio, threshold, passed in conn.execute(
            "select surface, attribute, group_value, metric, value, ratio, threshold, passed"
            " from monitoring.bias_results where run_id = %s and as_of_date = %s and passed is not null"
            " order by 1, 2, 4, 3",
            (run_id, as_of),
        ):
            gate, blocking = _bias_gate(surface)
            subject = f"{surface}/{attribute}/{metric}"
            tested[gate].append(f"bias:{subject}/{group}")
            if not passed:
                message = f"{subject}: {group} {value:.3f} is {ratio:.2f} of the best (< {threshold:g})"
                out.append(Finding(gate, "bias", subject, blocking, message))
        for day, metric, series, level, reason in conn.execute(
            "select as_of_date, metric, series, level, reason from monitoring.anomaly_results"
            " where run_id = %s and as_of_date between %s and %s order by 1, 2, 3",
            (run_id, start, as_of),
        ):
            gate = "plans_gate" if metric in PLAN_METRICS else "marts_gate"
            subject = f"{metric}/{series}"
            tested[gate].append(f"anomaly:{subject}@{day}")
            if level in ("warn", "error"):
                message = f"{subject} on {day}: {reason}"
                out.append(Finding(gate, "anomaly", subject, level == "error", message))
    return out, tested


def active_waivers(params: PgParams, on: date) -> list[Waiver]:
    """Waivers in force on `on` (expiry inclusive)."""
    with connect(params) as conn:
        rows = conn.execute(
            "select waiver_id, check_name, pattern, owner, reason, expires_on from monitoring.waivers"
            " where expires_on >= %s order by waiver_id",
            (on,),
        ).fetchall()
    return [Waiver(*r) for r in rows]


def add_waiver(
    params: PgParams, check_name: str, pattern: str, owner: str, reason: str, expires_on: date
) -> int:
    """Grant a named waiver; returns its id. A waiver needs an owner, a reason and an expiry date."""
    if check_name not in CHECKS:
        raise ValueError(f"waiver check_name must be one of {CHECKS}, got {check_name!r}")
    if not owner.strip() or not reason.strip():
        raise ValueError("a waiver needs an owner and a reason")
    with connect(params) as conn:
        row = conn.execute(
            "insert into monitoring.waivers (check_name, pattern, owner, reason, expires_on)"
            " values (%s, %s, %s, %s, %s) returning waiver_id",
            (check_name, pattern, owner.strip(), reason.strip(), expires_on),
        ).fetchone()
        assert row is not None  # insert ... returning gives one row
        return row[0]


def night_verdict(
    params: PgParams, run_id: str, as_of: date, gate: str, start: date | None = None
) -> Verdict:
    """Decide one gate for the night from this run's recorded results, and record the verdict."""
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}: choose from {GATES}")
    found, tested = findings(params, run_id, as_of, start)
    verdict = decide(gate, as_of, found, tested[gate], active_waivers(params, as_of))
    record_verdict(params, run_id, verdict)
    return verdict


def record_verdict(params: PgParams, run_id: str, verdict: Verdict) -> None:
    """Replace this run's verdict for the gate and day."""
    waiver_id = verdict.waivers[0]["waiver_id"] if verdict.waivers else None
    with connect(params) as conn:
        conn.execute(
            "delete from monitoring.night_verdicts where run_id = %s and as_of_date = %s and gate = %s",
            (run_id, verdict.as_of_date, verdict.gate),
        )
        conn.execute(
            "insert into monitoring.night_verdicts (run_id, as_of_date, gate, status, waiver_id, detail)"
            " values (%s, %s, %s, %s, %s, %s::jsonb)",
            (
                run_id,
                verdict.as_of_date,
                verdict.gate,
                verdict.status,
                waiver_id,
                json.dumps(verdict.detail()),
            ),
        )


def report_path(params: PgParams, run_id: str, as_of: date) -> str | None:
    """The night's drift report recorded by this run, if any."""
    with connect(params) as conn:
        row = conn.execute(
            "select max(report_path) from monitoring.drift_results where run_id = %s and as_of_date = %s",
            (run_id, as_of),
        ).fetchone()
    return row[0] if row else None
