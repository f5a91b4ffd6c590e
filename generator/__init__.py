"""Seeded, realistic demo and scale data for Kairoo, with a latent ground truth.

    from generator import GeneratorConfig, generate
    report = generate(GeneratorConfig(tier="S", landing_dir=..., oracle_dir=..., start=date(2026, 11, 1),
                                      end=date(2026, 11, 21), seed=7))

Writes landing files in the layout of docs/architecture.md:

    <landing>/resumes/<day>/resumes.jsonl               one resume per arriving user (multi-line text)
    <landing>/job_postings/<day>/postings.csv           postings published that day
    <landing>/hris_employees/<day>/<tenant>.csv         day 1: full snapshot; later: hires and terminations
    <landing>/interaction_events/<day>/events.csv       the day's behaviour
    <landing>/reference/learning_modules/catalogue.parquet

The first day carries the initial population (all users' resumes, open jobs, HRIS snapshot, module
catalogue); later days carry arrivals and that day's events. The latent truth (`World`) goes to
`oracle_dir` — never under the landing folder — and is queried with `generator.oracle`. Same config,
same bytes.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

from generator.faults import FAULTS, FaultRecord

__all__ = [
    "FAULTS", "SOURCES", "FaultRecord", "FileRecord", "GenerationReport", "GeneratorConfig", "generate",
]  # fmt: skip

SOURCES = ("resumes", "job_postings", "hris_employees", "interaction_events", "learning_modules")


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. `sources=None` means all five; `faults` names from `generator.FAULTS`.

    bias_strength > 0 makes behaviour depend on gender and age band (for fairness tests); 0 = fair world.
    """

    tier: str
    landing_dir: Path
    oracle_dir: Path
    start: date
    end: date
    seed: int = 7
    faults: tuple[str, ...] = ()
    bias_strength: float = 0.0
    sources: tuple[str, ...] | None = None


@dataclass(frozen=True)
class FileRecord:
    """One written landing file (path relative to the landing folder; day None for reference data)."""

    source: str
    day: date | None
    path: str
    rows: int
    format: str


@dataclass
class GenerationReport:
    """What was generated, file by file, and every injected fault."""

    tier: str
    seed: int
    start: date
    end: date
    n_users: int
    n_jobs: int
    n_modules: int
    files: list[FileRecord] = field(default_factory=list)
    faults: list[FaultRecord] = field(default_factory=list)
    seconds: float = 0.0

    def rows(self, source: str) -> int:
        """Rows written for a source (before fault injection moved or broke any)."""
        return sum(f.rows for f in self.files if f.source == source)

    def faults_of(self, name: str) -> list[FaultRecord]:
        return [f for f in self.faults if f.fault == name]

    def to_dict(self) -> dict:
        return json.loads(json.dumps(asdict(self), default=str))


def _check(config: GeneratorConfig) -> tuple[str, ...]:
    from generator.faults import check_faults

    if config.end < config.start:
        raise ValueError(f"end {config.end} is before start {config.start}")
    land = Path(config.landing_dir).resolve()
    orc = Path(config.oracle_dir).resolve()
    if orc == land or land in orc.parents or orc in land.parents:
        raise ValueError(f"oracle_dir {orc} must not be inside landing_dir {land} (or contain it)")
    check_faults(tuple(config.faults))
    sources = SOURCES if config.sources is None else tuple(config.sources)
    bad = sorted(set(sources) - set(SOURCES))
    if bad:
        raise ValueError(f"unknown sources {bad}: choose from {list(SOURCES)}")
    return sources


def generate(config: GeneratorConfig) -> GenerationReport:
    """Generate [start, end] into config.landing_dir and the truth into config.oracle_dir."""
    import numpy as np

    from generator import faults as fault_mod
    from generator.events import Learning, events_table, simulate_day
    from generator.text import Hris, Names, job_records, module_records, resume_records
    from generator.tiers import get_tier
    from generator.world import build_world

    t0 = time.perf_counter()
    sources = _check(config)
    tier = get_tier(config.tier)
    landing = Path(config.landing_dir)
    oracle = Path(config.oracle_dir)
    days = [config.start + timedelta(days=i) for i in range((config.end - config.start).days + 1)]
    world = build_world(tier, config.seed, len(days), config.bias_strength)
    world.save(oracle)
    names = Names(world)
    report = GenerationReport(
        tier.name, config.seed, config.start, config.end,
        n_users=len(world.u_occ), n_jobs=len(world.j_occ), n_modules=len(world.m_level),
    )  # fmt: skip
    hris = Hris(world, names, tier.n_tenants, tier.employee_share, config.seed, config.start)
    fault_day = days[1] if len(days) > 1 else days[0]
    prev_events: Path | None = None
    learning = Learning()  # module enrolments carry over from day to day

    for d, day in enumerate(days):
        new_users = np.flatnonzero(world.u_day == d)
        new_jobs = np.flatnonzero(world.j_day == d)
        files = fault_mod.DayFiles(landing, day)
        if "resumes" in sources and len(new_users):
            path = _folder(landing, "resumes", day) / "resumes.jsonl"
            encode = json.JSONEncoder(ensure_ascii=False).encode
            with path.open("w", encoding="utf-8") as out:
                # Chunks of 10k: memory stays flat at tier M/L (100k–1M resumes on the first day).
                for a in range(0, len(new_users), 10_000):
                    recs = resume_records(world, names, new_users[a : a + 10_000], day, config.seed, d == 0)
                    out.write("".join(encode(r) + "\n" for r in recs))
            report.files.append(FileRecord("resumes", day, _rel(landing, path), len(new_users), "jsonl"))
            files.resumes = path
        if "job_postings" in sources and len(new_jobs):
            import pandas as pd

            recs = job_records(world, names, new_jobs, day, config.seed, backdate=d == 0)
            path = _folder(landing, "job_postings", day) / "postings.csv"
            pd.DataFrame(recs).to_csv(path, index=False, lineterminator="\n")
            report.files.append(FileRecord("job_postings", day, _rel(landing, path), len(recs), "csv"))
            files.postings = path
        if "hris_employees" in sources:
            import pandas as pd

            rows = hris.day(d, day, new_users)
            if rows:
                df = pd.DataFrame(rows)
                for tenant, part in df.groupby("tenant_id", sort=True):
                    path = _folder(landing, "hris_employees", day) / f"{tenant}.csv"
                    part.to_csv(path, index=False, lineterminator="\n")
                    rec = FileRecord("hris_employees", day, _rel(landing, path), len(part), "csv")
                    report.files.append(rec)
        if "interaction_events" in sources:
            import pyarrow.csv as pacsv

            table = events_table(simulate_day(world, tier, d, config.seed, learning), day)
            path = _folder(landing, "interaction_events", day) / "events.csv"
            pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="needed"))
            rec = FileRecord("interaction_events", day, _rel(landing, path), table.num_rows, "csv")
            report.files.append(rec)
            files.events, files.prev_events = path, prev_events
            prev_events = path
        if "learning_modules" in sources and d == 0:
            import pandas as pd

            folder = landing / "reference" / "learning_modules"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / "catalogue.parquet"
            mods = pd.DataFrame(module_records(world, names, config.seed))
            mods.to_parquet(path, index=False)
            rec = FileRecord("learning_modules", None, _rel(landing, path), len(mods), "parquet")
            report.files.append(rec)
        if config.faults and day == fault_day:
            report.faults += fault_mod.inject(tuple(config.faults), files, config.seed)

    report.seconds = round(time.perf_counter() - t0, 3)
    (oracle / "report.json").write_text(json.dumps(report.to_dict(), indent=1))
    return report


def _folder(landing: Path, source: str, day: date) -> Path:
    path = landing / source / day.isoformat()
    path.mkdir(parents=True, exist_ok=True)
    # Regenerating into the same landing folder: fault files of an earlier run would otherwise linger
    # next to the fresh clean files (same-named files are simply overwritten).
    for stale in path.glob("part-*"):
        stale.unlink()
    return path


def _rel(landing: Path, path: Path) -> str:
    return path.relative_to(landing).as_posix()
