"""Code-location load time against `import dagster` alone, both in fresh interpreters, same run.

Prints one JSON line. The figure that matters to the data team: how long `dagster dev`, the code
server and (under the multiprocess executor) every step process spend importing Kairoo.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RUNS = 3


def _time(code: str) -> float:
    samples = []
    for _ in range(RUNS):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
        )
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def main() -> None:
    ref = _time("import dagster")
    load = _time("import orchestration.definitions")
    validate_began = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-w", "workspace.yaml"],
        check=True,
        cwd=REPO,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    validate = time.perf_counter() - validate_began
    print(
        json.dumps(
            {
                "bench": "load",
                "import_dagster_s": round(ref, 2),
                "code_location_s": round(load, 2),
                "ratio": round(load / ref, 2),
                "definitions_validate_s": round(validate, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
