"""`python -m boards.serve`: serve the boards on http://127.0.0.1:8501 (what `make boards` runs).

The settings (database, reader role) come from core.settings in the app process itself; this only
starts Streamlit on loopback, headless, with its usage statistics off.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).resolve().parent / "app.py"
REPO = APP.parent.parent


def command(port: int, address: str = "127.0.0.1") -> list[str]:
    """The streamlit command line that serves the app."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", address,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        "--client.toolbarMode", "viewer",
    ]  # fmt: skip


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The app process's environment: the repository importable, plus any explicit settings."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--address", default="127.0.0.1")
    args = parser.parse_args(argv)
    print(f"Kairoo boards on http://{args.address}:{args.port}", flush=True)
    # Replace this process with Streamlit: whoever stops it (Ctrl-C, a test, the benchmark) stops
    # the server itself, never leaving an orphan holding the port.
    argv = command(args.port, args.address)
    os.execve(argv[0], argv, environment())


if __name__ == "__main__":
    raise SystemExit(main())
