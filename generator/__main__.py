"""CLI: python -m generator --tier S --start 2026-11-01 --end 2026-11-21 --landing DIR --oracle DIR."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from generator import FAULTS, SOURCES, GeneratorConfig, generate


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generator", description=__doc__)
    p.add_argument("--tier", default="S", choices=["S", "M", "L"])
    p.add_argument("--start", type=date.fromisoformat, required=True)
    p.add_argument("--end", type=date.fromisoformat, required=True)
    p.add_argument("--landing", type=Path, required=True)
    p.add_argument("--oracle", type=Path, required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--faults", nargs="*", default=[], choices=[*FAULTS, "all"], metavar="FAULT")
    p.add_argument("--bias-strength", type=float, default=0.0)
    p.add_argument("--sources", nargs="*", default=None, choices=SOURCES, metavar="SOURCE")
    a = p.parse_args(argv)
    faults = FAULTS if "all" in a.faults else tuple(a.faults)
    report = generate(
        GeneratorConfig(
            tier=a.tier, landing_dir=a.landing, oracle_dir=a.oracle, start=a.start, end=a.end, seed=a.seed,
            faults=faults, bias_strength=a.bias_strength, sources=tuple(a.sources) if a.sources else None,
        )
    )  # fmt: skip
    summary = {s: report.rows(s) for s in SOURCES}
    print(json.dumps({"seconds": report.seconds, "rows": summary, "faults": len(report.faults)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
