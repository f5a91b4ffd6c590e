"""What a learning plan is: the typed, versioned contract between planners, reviewers and the product.

Two layers:

- `PlanDraft` is what a planner writes (the offline planner, or an LLM through `chat.completions.parse`
  with this model as its strict JSON schema). It carries only ids, the titles the planner repeats for
  each id (checked against the catalogue by `plans.guardrails`: id and label together), weeks and short
  texts. Plain types only, so every OpenAI-compatible endpoint can enforce it as a strict schema; the
  limits (lengths, ranges) are checked by the guardrails, which name the rule that failed.
- `Plan` is what is stored and published: the draft plus who it is for, the night, the user's weekly
  hours and horizon, and follow-ups with real due dates. A reviewer's edited plan is validated as a
  `Plan` (`plans.review.decide`).

`SCHEMA_VERSION` changes whenever a field changes meaning; stored plans keep the version they were
written under (`plans.plan_versions.schema_version`).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SCHEMA_VERSION = "plan/1"
LEVELS = ("beginner", "intermediate", "advanced")
LEVEL_RANK = {name: i + 1 for i, name in enumerate(LEVELS)}
FOLLOW_UP_KINDS = ("apply_after_module", "check_in")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetRole(_Strict):
    """A job from tonight's recommendations the plan prepares the user for."""

    job_id: str
    title: str  # repeated by the planner; must equal the catalogue's title for job_id


class GapItem(_Strict):
    """One skill the user lacks for their target occupation, most important first."""

    skill_id: str
    skill_name: str  # repeated; must equal the vocabulary's name for skill_id
    gap_weight: float


class ModuleStep(_Strict):
    """One learning module, in the order the user should take them."""

    module_id: str
    title: str  # repeated; must equal the catalogue's title for module_id
    week: int  # 1-based week in which the module starts
    hours: float  # the catalogue's duration


class Milestone(_Strict):
    """What the user should have finished by the end of a week."""

    week: int
    module_ids: list[str]
    description: str


class FollowUpDraft(_Strict):
    """An action the product follows up on: apply to a job after a module, or a check-in."""

    kind: Literal["apply_after_module", "check_in"]
    due_week: int  # end of this week (1-based) is the due date
    job_id: str | None
    module_id: str | None
    message: str


class PlanDraft(_Strict):
    """What a planner writes; the LLM's structured output (strict JSON schema)."""

    target_roles: list[TargetRole]
    skill_gaps: list[GapItem]
    modules: list[ModuleStep]
    milestones: list[Milestone]
    follow_ups: list[FollowUpDraft]
    summary: str


class FollowUp(_Strict):
    kind: Literal["apply_after_module", "check_in"]
    due_date: date
    job_id: str | None = None
    module_id: str | None = None
    message: str


class Plan(_Strict):
    """A stored, publishable plan (schema version `SCHEMA_VERSION`)."""

    schema_version: Literal["plan/1"] = "plan/1"  # = SCHEMA_VERSION
    user_key: str = Field(min_length=1)
    as_of_date: date
    weekly_hours: float = Field(gt=0, le=80)
    horizon_weeks: int = Field(ge=1, le=52)
    target_roles: list[TargetRole] = Field(min_length=1, max_length=5)
    skill_gaps: list[GapItem] = Field(max_length=30)
    modules: list[ModuleStep] = Field(max_length=40)
    milestones: list[Milestone]
    follow_ups: list[FollowUp]
    summary: str = Field(max_length=600)

    @model_validator(mode="after")
    def _coherent(self) -> Plan:
        ids = [m.module_id for m in self.modules]
        if len(ids) != len(set(ids)):
            raise ValueError("a module appears twice in the plan")
        weeks = [m.week for m in self.modules]
        if weeks != sorted(weeks):
            raise ValueError("modules are not in week order")
        if any(w < 1 or w > self.horizon_weeks for w in weeks):
            raise ValueError(f"a module starts outside weeks 1..{self.horizon_weeks}")
        return self


def week_end(as_of: date, week: int) -> date:
    """Due date of `week` (1-based): the last day of that week counted from the night after `as_of`."""
    from datetime import timedelta

    return as_of + timedelta(days=7 * week)


def to_plan(draft: PlanDraft, user_key: str, as_of: date, weekly_hours: float, horizon_weeks: int) -> Plan:
    """The stored plan for a draft: due weeks become dates. Raises pydantic.ValidationError if incoherent."""
    return Plan(
        user_key=user_key,
        as_of_date=as_of,
        weekly_hours=weekly_hours,
        horizon_weeks=horizon_weeks,
        target_roles=draft.target_roles,
        skill_gaps=draft.skill_gaps,
        modules=draft.modules,
        milestones=draft.milestones,
        follow_ups=[
            FollowUp(
                kind=f.kind,
                due_date=week_end(as_of, f.due_week),
                job_id=f.job_id,
                module_id=f.module_id,
                message=f.message,
            )
            for f in draft.follow_ups
        ],
        summary=draft.summary,
    )
