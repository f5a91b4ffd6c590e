"""`python -m ingestion land MAPPING FILE ...`: bring your own export into the warehouse.

    python -m ingestion land kaggle_resumes exports/resumes.csv --day 2026-03-01 --dry-run
    python -m ingestion land kaggle_resumes exports/resumes.csv --day 2026-03-01
    python -m ingestion land my_events exports/history.jsonl --by-day

The dry run maps the file into a throw-away landing folder and runs every check and write of the load
in a transaction that is rolled back: it prints what would load and what would be quarantined, and
why, and nothing is kept. Without it the mapped file lands in the configured landing (one file per day
of the event time with --by-day) and is loaded (--no-load: land only). Settings (warehouse, landing,
pseudonymization key, KAIROO_MAPPING_DIRS) come from core.settings.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

from core.database import warehouse_params
from core.settings import get_settings
from ingestion.contracts import load_contract
from ingestion.loader import ingest_file
from ingestion.mappings import MappingError, land_mapped_days, load_mapping
from ingestion.report import FileReport, LandedFile


def _print_file(fr: FileReport, out) -> None:
    print(f"  {fr.path}: {fr.status}; {fr.rows_read} read, {fr.rows_loaded} load, "
          f"{fr.rows_quarantined} quarantined", file=out)  # fmt: skip
    if fr.error:
        print(f"    rejected: {fr.error}", file=out)
    if fr.far_outside:
        print(f"    {fr.far_outside} events lie 7 days or more from this partition's day", file=out)
    rules = Counter(rule for _, rule, _ in fr.preview)
    for rule, n in rules.most_common():
        print(f"    {n} × {rule}", file=out)
        for _line, _rule, message in [p for p in fr.preview if p[1] == rule][:3]:
            print(f"      {message}", file=out)


def land(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    settings = get_settings()
    dirs = settings.mapping_dirs
    spec = load_mapping(args.mapping, dirs)
    contract = load_contract(spec["target"])
    day = date.fromisoformat(args.day) if args.day else None
    files = {"main": Path(args.file)}
    params = warehouse_params(settings)
    with tempfile.TemporaryDirectory(prefix="kairoo-dry-") as tmp:
        landing = tmp if args.dry_run else (args.landing or settings.landing_url)
        try:
            landed = land_mapped_days(args.mapping, files, landing, day, dirs, by_day=args.by_day)
        except MappingError as exc:
            print(f"error: {exc}", file=out)
            return 2
        verb = "would land" if args.dry_run else "landed"
        print(f"{args.file} → {contract.source}: {verb} {len(landed)} file(s)", file=out)
        if not args.dry_run and args.no_load:
            for d, path in landed.items():
                print(f"  {d or 'reference'}: {path}", file=out)
            return 0
        for d, path in sorted(landed.items(), key=lambda kv: str(kv[0])):
            lf = LandedFile(contract.source, path, d, Path(path).stat().st_size)
            fr = ingest_file(params, lf, settings.pii_key, contract=contract, landing_url=landing,
                             replace_all=contract.reference, dry_run=args.dry_run)  # fmt: skip
            _print_file(fr, out)
    if args.dry_run:
        print("dry run: nothing was written", file=out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ingestion")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("land", help="map an outside file into landing and load it")
    p.add_argument("mapping", help="mapping name (KAIROO_MAPPING_DIRS, then ingestion/mappings/)")
    p.add_argument("file", help="the outside file: CSV, JSON (array or records), JSON Lines or Parquet")
    p.add_argument(
        "--day", help="partition day YYYY-MM-DD (events with --by-day: for records without a time)"
    )
    p.add_argument("--by-day", action="store_true", help="events: one partition per day of their time")
    p.add_argument(
        "--dry-run", action="store_true", help="print what would load and be quarantined; write nothing"
    )
    p.add_argument("--no-load", action="store_true", help="land only; the next night loads it")
    p.add_argument("--landing", help="landing URL (default: the configured KAIROO_LANDING_URL)")
    args = parser.parse_args(argv)
    return land(args)


if __name__ == "__main__":
    sys.exit(main())
