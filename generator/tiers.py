"""Size tiers of the generated world.

- S: demo and tests — a 21-day history generates in a few seconds.
- M: scale tests — 100k users, 20k jobs, about 1M events per day; one day generates in seconds.
- L: capacity planning — 1M users, 200k jobs (parameters only; not exercised by tests).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tier:
    """How big the world is and how busy its users are."""

    name: str
    n_users: int  # initial population (all resumes delivered on the first day)
    n_jobs: int  # open postings on the first day
    n_modules: int  # learning catalogue size
    n_occupations: int  # O*NET occupations the population is drawn from (more = sparser overlap)
    new_users_per_day: int
    new_jobs_per_day: int
    active_share: float  # share of users active on a given day
    mean_job_views: float  # job views per active user per day (1 + Poisson)
    module_share: float  # share of active users who touch learning modules that day
    tool_share: float  # share of active users who open a career tool that day
    n_candidates: int  # jobs per active user the day's views are sampled from (neighbourhood, not all jobs)
    n_tenants: int  # enterprise customers with an HRIS feed
    employee_share: float  # share of users employed by one of the tenants


TIERS: dict[str, Tier] = {
    "S": Tier("S", 500, 300, 120, 40, 6, 8, 0.75, 8.0, 0.35, 0.15, 48, 3, 0.30),
    "M": Tier("M", 100_000, 20_000, 1_500, 400, 400, 150, 0.70, 11.0, 0.35, 0.15, 64, 20, 0.25),
    "L": Tier("L", 1_000_000, 200_000, 5_000, 800, 4_000, 1_500, 0.60, 9.0, 0.35, 0.15, 64, 100, 0.25),
}


def get_tier(name: str) -> Tier:
    """The tier called `name` (S, M or L)."""
    try:
        return TIERS[name.upper()]
    except KeyError:
        raise ValueError(f"unknown tier {name!r}: choose one of {sorted(TIERS)}") from None
