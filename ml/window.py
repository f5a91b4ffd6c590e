"""Which as-of dates a night reads: the time split, the dates a backfill draws, the validation sample.

Split in time, never at random: the model is validated on the latest as-of dates whose label window has
closed, and trained only on earlier dates whose label window closed before validation starts, so no
training label comes from the validation period. Pure date arithmetic, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from ml.config import RankerConfig, candidate_horizon_days


@dataclass(frozen=True)
class Split:
    train_dates: list[date]
    valid_dates: list[date]
    kind: str  # "time" (normal) or "user_holdout" (only one usable date)


def time_split(
    dates: list[date],
    as_of: date,
    label_window_days: int,
    validation_dates: int,
    train_window_dates: int | None = None,
) -> Split:
    """Pick validation dates (the latest whose label window closed by `as_of`) and earlier training dates.

    Training dates must have their whole label window before the first validation date; the latest
    `train_window_dates` of them train (all when None). With a single usable date there is no time to
    split: the caller holds out users instead (and says so).
    """
    window = timedelta(days=label_window_days)
    usable = sorted(d for d in set(dates) if d + window <= as_of)
    if not usable:
        raise ValueError(
            f"no candidate as-of date has a closed {label_window_days}-day label window by {as_of}: "
            f"candidate dates {sorted(set(dates))}"
        )
    valid = usable[-validation_dates:]
    train = [d for d in usable if d + window <= valid[0]]
    if train_window_dates is not None:
        train = train[-train_window_dates:]
    if not train:
        return Split([usable[-1]], [usable[-1]], "user_holdout")
    return Split(train, valid, "time")


def dates_to_draw(start: date, end: date, config: RankerConfig) -> list[date]:
    """The as-of dates of [start, end] worth drawing candidates for: the last `candidate_horizon_days`.

    A backfill over months would otherwise pay a retrieval and a pair-feature build per date (~5-10 s
    each at tier S) for dates no training reads and retention drops. A nightly run draws its one date.
    """
    horizon = candidate_horizon_days(config)
    first = max(start, end - timedelta(days=horizon - 1))
    return [first + timedelta(days=i) for i in range((end - first).days + 1)]


@dataclass(frozen=True)
class ValidationSample:
    """The judged queries a challenger was validated on, so the gate re-scores exactly the same ones.

    Recorded with the challenger's run (as tags) by training, read back by the gate: the champion is then
    compared on the challenger's dates, label window, sample size and sampling seed.
    """

    dates: list[date]
    label_window_days: int
    max_queries: int
    seed: int

    def to_tags(self) -> dict[str, str]:
        return {
            "valid_dates": ",".join(d.isoformat() for d in self.dates),
            "label_window_days": str(self.label_window_days),
            "valid_max_queries": str(self.max_queries),
            "valid_seed": str(self.seed),
        }

    def to_metadata(self) -> dict[str, Any]:
        return {
            "dates": [d.isoformat() for d in self.dates],
            "label_window_days": self.label_window_days,
            "max_queries": self.max_queries,
            "seed": self.seed,
        }

    @classmethod
    def from_tags(cls, tags: dict[str, str], config: RankerConfig) -> ValidationSample:
        """Read back `to_tags`; runs logged before the sample size and seed were tagged use `config`'s."""
        return cls(
            dates=[date.fromisoformat(d) for d in tags["valid_dates"].split(",")],
            label_window_days=int(tags["label_window_days"]),
            max_queries=int(tags.get("valid_max_queries", config.max_valid_queries)),
            seed=int(tags.get("valid_seed", config.seed)),
        )
