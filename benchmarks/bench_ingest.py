"""Ingestion speed: one M-tier day of interaction events, full ingest vs `psql \\copy` of the same file.

The reference is psql's `\\copy` of the same CSV into a plain (logged, typed, unindexed) table of the raw
columns, measured in the same run on the same server. The ingest runs with everything on: contract
checks, duplicate detection against loaded data, pseudonymization, vault, manifest and ledger.
Prints one JSON line. Uses a throw-away embedded PostgreSQL unless KAIROO_DATABASE_URL is set.
"""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from core.database import PgParams, bootstrap, ensure_database, parse_url, start_embedded  # noqa: E402

ROWS = int(os.environ.get("KAIROO_BENCH_ROWS", "1000000"))  # fallback writer only; M tier ≈ 1M events a day
DAY = date(2026, 3, 2)
EVENT_TYPES = [("job_view", "job"), ("job_save", "job"), ("job_apply", "job"), ("module_start", "module"),
               ("module_progress", "module"), ("module_complete", "module"), ("tool_session", "tool")]  # fmt: skip  # noqa: E501
HEADER = ["event_id", "user_id", "event_type", "item_type", "item_id", "occurred_at", "duration_s",
          "progress_pct", "session_id"]  # fmt: skip


def write_events(path: Path, rows: int, seed: int = 7, day: date = DAY) -> None:
    """A day of events shaped like the generator's (fallback when the generator is not installed)."""
    rnd = random.Random(seed)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for i in range(rows):
            et, it = EVENT_TYPES[min(int(rnd.expovariate(0.6)), 6)]
            item = (
                f"J{rnd.randrange(20000):06d}"
                if it == "job"
                else (f"M{rnd.randrange(2000):05d}" if it == "module" else "interview_coach")
            )
            ts = start + timedelta(seconds=rnd.randrange(86400))
            w.writerow([
                f"ev-{day:%Y%m%d}-{i:08d}", f"U{rnd.randrange(100000):07d}", et, it, item,
                ts.strftime("%Y-%m-%dT%H:%M:%SZ"), rnd.randrange(1, 900),
                round(rnd.random() * 100, 1) if et == "module_progress" else "",
                f"S{rnd.randrange(10**9):09d}",
            ])  # fmt: skip


def generated_days(landing: Path, oracle: Path) -> list[tuple[date, Path]]:
    """Two consecutive M-tier days of events from the project's generator (about 1M rows each)."""
    days = [DAY, DAY + timedelta(days=1)]
    # In a separate process, so that the peak RSS below is the ingesting process's own.
    gen = subprocess.run(
        [sys.executable, "-m", "generator", "--tier", "M", "--start", str(days[0]), "--end", str(days[1]),
         "--landing", str(landing), "--oracle", str(oracle), "--sources", "interaction_events"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
    )  # fmt: skip
    if gen.returncode != 0:  # no generator here: a generator-shaped file of our own
        out = []
        for i, day in enumerate(days):
            folder = landing / "interaction_events" / day.isoformat()
            folder.mkdir(parents=True, exist_ok=True)
            write_events(folder / "events.csv", ROWS, seed=7 + i, day=day)
            out.append((day, folder / "events.csv"))
        return out
    return [(d, landing / "interaction_events" / d.isoformat() / "events.csv") for d in days]


def psql_bin() -> str:
    found = shutil.which("psql")
    if found:
        return found
    import pgserver

    return str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql")


def copy_reference(params: PgParams, csv_path: Path) -> float:
    with psycopg.connect(params.conninfo(), autocommit=True) as conn:
        conn.execute("drop table if exists public.bench_copy_ref")
        conn.execute(
            "create table public.bench_copy_ref (event_id text, user_id text, event_type text, item_type text,"  # noqa: E501
            " item_id text, occurred_at timestamptz, duration_s integer, progress_pct numeric, session_id text)"  # noqa: E501
        )
    env = {**os.environ, "PGPASSWORD": params.password}
    cmd = [psql_bin(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", params.host, "-p", str(params.port),
           "-U", params.user, "-d", params.dbname,
           "-c", f"\\copy public.bench_copy_ref from '{csv_path}' with (format csv, header true)"]  # fmt: skip  # noqa: E501
    began = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    seconds = time.perf_counter() - began
    with psycopg.connect(params.conninfo(), autocommit=True) as conn:
        conn.execute("drop table public.bench_copy_ref")
    return seconds


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="kb-", dir="/tmp"))
    try:
        url = os.environ.get("KAIROO_DATABASE_URL")
        if url:
            params = parse_url(url)
        else:
            server = start_embedded(tmp / "pg")
            params = PgParams(server.host, server.port, server.user, server.password, "bench_ingest")
            ensure_database(params)
        bootstrap(params)
        with psycopg.connect(params.conninfo(), autocommit=True) as conn:  # a repeatable run on a real URL
            conn.execute("delete from raw.interaction_events where _partition_date between %s and %s",
                         (DAY, DAY + timedelta(days=1)))  # fmt: skip
        landing = tmp / "landing"
        # Two consecutive days: the first fills an empty warehouse (every user id is new to the vault),
        # the second is the steady state of a nightly run (same users, new events). Both are reported;
        # the headline figures are the second day's.
        files = generated_days(landing, tmp / "oracle")

        # Import cost is paid once per process, not per file: measured apart from the load.
        import_began = time.perf_counter()
        import pandas  # noqa: F401  (pyarrow imports it lazily on first use: 2-6 s on these machines)
        import pyarrow.compute  # noqa: F401  (the fast path's checks)

        import ingestion

        import_s = time.perf_counter() - import_began
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        results = []
        for day, path in files:
            ref_s = copy_reference(params, path)
            began = time.perf_counter()
            report = ingestion.ingest_partition(params, "interaction_events", str(landing), day, day,
                                                "bench-only-pii-key")  # fmt: skip
            seconds = time.perf_counter() - began
            results.append((report, seconds, ref_s, report.timings))
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        (r1, s1, ref1, steps1), (r2, s2, ref2, steps2) = results
        print(json.dumps({
            "bench": "ingest",
            "tier": "M",
            "rows": r2.rows_read,
            "bytes": files[1][1].stat().st_size,
            "rows_loaded": r2.rows_loaded,
            "rows_quarantined": r2.rows_quarantined,
            "balanced": r1.balanced and r2.balanced,
            "seconds": round(s2, 2),
            "rows_per_s": round(r2.rows_read / s2),
            "copy_ref_seconds": round(ref2, 2),
            "copy_ref_rows_per_s": round(r2.rows_read / ref2),
            "ratio": round(ref2 / s2, 3),
            "first_day_rows_per_s": round(r1.rows_read / s1),
            "first_day_ratio": round(ref1 / s1, 3),
            "peak_rss_mb": round(peak_mb, 1),
            "rss_before_ingest_mb": round(rss_before / 1024, 1),
            "import_s": round(import_s, 2),
            "steps_s": steps2,
            "first_day_steps_s": steps1,
            "load": os.getloadavg()[0],
        }))  # fmt: skip
    finally:
        if not os.environ.get("KAIROO_DATABASE_URL"):
            from core.database import stop_embedded

            stop_embedded(tmp / "pg")
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
