"""One generator world through the nightly job, profiled step by step: the run the M-tier benchmarks share.

`bench_night`, `bench_ranking` and `bench_monitoring` all read the same run of a tier, as production runs
it: the generator's signals for `days` days land, the history runs as one backfill and the last day as
the nightly job (ingestion, dbt, GX, candidates, pair features, training with the generator's oracle for
evaluation, the promotion gate, scoring, monitoring, plans, publish), in a state folder of its own.

Run as a script it does that once and writes `world.json` into `--out` (the state folder stays in
`--out/state` for the benchmarks that measure on it afterwards). `ensure_world(tier, days)` is what the
benchmarks call: inside `make bench` (KAIROO_BENCH_WORLD_DIR set) a world built by an earlier benchmark
of the same `make bench` is reused, so the ~1.5 h M run happens once; outside it, each call builds its own
in a temporary folder.

While the night runs, a sampler reads every 0.5 s the CPU time, resident memory and bytes written of this
process, its children (dbt) and the PostgreSQL server (postmaster and backends; reaped children count
into their parent on Linux), and the figures are attributed to the steps by the steps' start and end
times: per step wall and CPU seconds (ours and PostgreSQL's), peak resident memory of the Python side,
MB written to disk and rows (`dagster/row_count`). `overhead_share` is the share of the night's wall
time spent outside step bodies (orchestration).

    .venv/bin/python benchmarks/night_world.py --tier S --days 21 --out /tmp/world-S   # ~10 min
    .venv/bin/python benchmarks/night_world.py --tier S --days 21 --out /tmp/world-S --night-only
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

START = date(2026, 1, 1)
WORLD_ENV = "KAIROO_BENCH_WORLD_DIR"
SAMPLE_EVERY_S = 0.5


def log(message: str) -> None:
    print(f"[night_world {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Sample:
    t: float
    cpu_py: float  # this process and its children (waited-for children included)
    cpu_pg: float  # the PostgreSQL server: postmaster, its reaped backends and the live ones
    rss_py_mb: float
    written_mb: float  # bytes written to storage by all of the above


@dataclass
class Sampler:
    """Cumulative CPU, memory and writes of the Python side and the PostgreSQL server, sampled."""

    pg_dir: Path
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self.read())

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.read())
            self._stop.wait(SAMPLE_EVERY_S)

    def _postmaster(self):
        import psutil

        try:
            return psutil.Process(int((self.pg_dir / "postmaster.pid").read_text().split()[0]))
        except (FileNotFoundError, ValueError, IndexError, psutil.Error):
            return None

    def read(self) -> Sample:
        import psutil

        def figures(procs, with_children: bool) -> tuple[float, float, float]:
            cpu = rss = written = 0.0
            for p in procs:
                try:
                    with p.oneshot():
                        t = p.cpu_times()
                        cpu += t.user + t.system
                        if with_children:
                            cpu += t.children_user + t.children_system
                        rss += p.memory_info().rss
                        written += p.io_counters().write_bytes
                except psutil.Error:
                    continue  # ended between listing and reading: its figures are in its parent's next
            return cpu, rss / 2**20, written / 2**20

        me = psutil.Process()
        ours = [me, *me.children(recursive=True)]
        pm = self._postmaster()
        pg = [pm, *pm.children()] if pm else []
        pg_pids = {p.pid for p in pg}
        cpu_py, rss_py, written_py = figures([p for p in ours if p.pid not in pg_pids], with_children=False)
        reaped = me.cpu_times()
        cpu_py += reaped.children_user + reaped.children_system
        cpu_pg, _, written_pg = figures(pg[:1], with_children=True)
        live_cpu, _, live_written = figures(pg[1:], with_children=False)
        return Sample(time.time(), cpu_py, cpu_pg + live_cpu, rss_py, written_py + written_pg + live_written)


def _at(samples: list[Sample], t: float) -> Sample:
    """The last sample taken at or before `t` (the first one if none)."""
    return samples[max(bisect_right([s.t for s in samples], t) - 1, 0)]


def step_profile(instance, result, samples: list[Sample]) -> dict[str, dict]:
    """Per step of the run: wall and CPU seconds, peak Python memory, MB written, rows, status."""
    rows: dict[str, int] = {}
    for event in result.get_asset_materialization_events():
        meta = event.materialization.metadata.get("dagster/row_count")
        if meta is not None and event.step_key:
            rows[event.step_key] = rows.get(event.step_key, 0) + int(meta.value)
    steps: dict[str, dict] = {}
    for stats in instance.get_run_step_stats(result.run_id):
        if not stats.start_time or not stats.end_time:
            continue
        a, b = _at(samples, stats.start_time), _at(samples, stats.end_time)
        inside = [s.rss_py_mb for s in samples if stats.start_time <= s.t <= stats.end_time] or [b.rss_py_mb]
        steps[stats.step_key] = {
            "wall_s": round(stats.end_time - stats.start_time, 2),
            "cpu_s": round(b.cpu_py - a.cpu_py, 2),
            "pg_cpu_s": round(b.cpu_pg - a.cpu_pg, 2),
            "peak_rss_mb": round(max(inside), 1),
            "written_mb": round(b.written_mb - a.written_mb, 1),
            "rows": rows.get(stats.step_key),
            "status": stats.status.value if stats.status else None,
        }
    return dict(sorted(steps.items(), key=lambda kv: -kv[1]["wall_s"]))


def du_gb(path: Path) -> float:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return round(total / 1e9, 2)


def build(tier: str, days: int, out_dir: Path, night_only: bool = False) -> dict:
    """Generate, backfill, run the night; returns the world's figures (written to out_dir/world.json).

    `night_only`: the history is already in out_dir/state (an earlier build); only the last night runs
    again, with the code as it is now (a night's re-run replaces its date), the history's figures kept
    from out_dir/history.json."""
    state = out_dir / "state"
    from benchmarks.isolation import isolate_state

    isolate_state(state)

    from core.database import stop_embedded
    from core.settings import get_settings
    from scripts.demo import asset_metadata, land_demo_signals, overhead_share, prepare_instance, run_nightly

    settings = get_settings()
    prepare_instance(settings)
    # dbt and the runs print to stdout; a world's stdout is free for the benchmark that ran it.
    stdout = os.dup(1)
    os.dup2(2, 1)
    end = START + timedelta(days=days - 1)
    out: dict = {"tier": tier, "days": days, "state": str(state), "load_average_1m_start": os.getloadavg()[0]}
    history_file = out_dir / "history.json"
    try:
        runs = []
        if night_only:
            out.update(json.loads(history_file.read_text()))
            out["night_only"] = True
            log(f"{tier}: the history of {history_file.parent} kept; the night runs again")
        else:
            began = time.perf_counter()
            out["events"] = land_demo_signals(settings, START, end, tier=tier)
            out["generate_s"] = round(time.perf_counter() - began, 1)
            log(f"{tier}: generated {out['events']:,} events in {out['generate_s']} s; history run starts")
            history, history_s, instance = run_nightly(START, end - timedelta(days=1))
            runs.append(history)
            out["history_s"], out["history_success"] = round(history_s, 1), history.success
            out["history_overhead_share"] = round(overhead_share(instance, history.run_id, history_s), 3)
            keys = ("events", "generate_s", "history_s", "history_success", "history_overhead_share")
            history_file.write_text(json.dumps({k: out[k] for k in keys}))
            log(f"{tier}: history run success={history.success} in {history_s:.0f} s; the night starts")
        oracle = {"ops": {"ml__ranker_challenger": {"config": {"oracle_dir": str(state / "oracle")}}}}
        with Sampler(settings.pg_dir) as sampler:
            night, night_s, instance = run_nightly(end, end, oracle)
        runs.append(night)
        out["night_s"], out["night_success"] = round(night_s, 1), night.success
        out["overhead_share"] = round(overhead_share(instance, night.run_id, night_s), 3)
        out["night_cpu_s"] = round(sampler.samples[-1].cpu_py - sampler.samples[0].cpu_py, 1)
        out["night_pg_cpu_s"] = round(sampler.samples[-1].cpu_pg - sampler.samples[0].cpu_pg, 1)
        out["night_written_gb"] = round(
            (sampler.samples[-1].written_mb - sampler.samples[0].written_mb) / 1e3, 2
        )
        out["steps"] = step_profile(instance, night, sampler.samples)
        out["failed_checks"] = [
            f"{e.asset_key.to_user_string()}:{e.check_name}"
            for r in runs
            for e in r.get_asset_check_evaluations()
            if not e.passed
        ]
        out["challenger"] = asset_metadata(night, "ml/ranker_challenger")
        out["served"] = asset_metadata(night, "marts_build/recommendations")
        out["load_average_1m_end"] = os.getloadavg()[0]
    finally:
        stop_embedded(settings.pg_dir)
        sys.stdout.flush()
        os.dup2(stdout, 1)
    out["disk_gb"] = du_gb(state)
    (out_dir / "world.json").write_text(json.dumps(out, default=str, indent=1))
    return out


TIER_DAYS = {"S": 21, "M": 22}  # a full 7-date training window at the last night (bench_ranking says why)


def tier_and_days(doc: str | None) -> tuple[str, int]:
    """--tier (default M, or KAIROO_BENCH_TIER) and --days of a benchmark that reads a world."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument(
        "--tier", default=os.environ.get("KAIROO_BENCH_TIER", "M").upper(), choices=sorted(TIER_DAYS)
    )
    parser.add_argument("--days", type=int, default=None, help="days of history (default: 21 at S, 22 at M)")
    args = parser.parse_args()
    return args.tier, args.days or TIER_DAYS[args.tier]


def ensure_world(tier: str, days: int) -> tuple[dict, Path, bool]:
    """The world of (tier, days): reused inside `make bench`, else built now. Returns (figures, its
    folder, whether the caller owns it and should delete it when done)."""
    shared = os.environ.get(WORLD_ENV)
    folder = (
        Path(shared) / f"{tier}-{days}" if shared else Path(tempfile.mkdtemp(prefix=f"kairoo-world-{tier}-"))
    )
    done = folder / "world.json"
    if not done.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        log(f"building the {tier} world ({days} days) in {folder}")
        run = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--tier",
                tier,
                "--days",
                str(days),
                "--out",
                str(folder),
            ],
            check=False,
        )
        if not done.is_file():
            raise SystemExit(
                f"night_world: the {tier} world did not finish (exit {run.returncode}); see its log above"
            )
    else:
        log(f"reusing the {tier} world ({days} days) in {folder}")
    return json.loads(done.read_text()), folder, not shared


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tier", default="S", choices=["S", "M"])
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--out", type=Path, required=True, help="folder for world.json and state/")
    parser.add_argument(
        "--night-only",
        action="store_true",
        help="re-run only the last night on the history already in --out (after a code change)",
    )
    args = parser.parse_args()
    if args.night_only:
        if not (args.out / "history.json").is_file():
            parser.error(f"--night-only: {args.out / 'history.json'} is missing (no finished history)")
    elif args.out.exists() and any(args.out.iterdir()):
        shutil.rmtree(args.out / "state", ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    out = build(args.tier, args.days, args.out, night_only=args.night_only)
    return 0 if out.get("night_success") else 1


if __name__ == "__main__":
    sys.exit(main())
