"""`kairoo-dbt`: the dbt command line, bound to the life of the process that started it.

Killing a night's process (OOM killer, `kill -9`, a lost pod) used to leave its dbt child running:
it went on rewriting `marts_build` tables for 20 s after the kill (issue #11). dagster-dbt forwards a
polite interrupt only when the run is terminated through Dagster. On Linux the kernel can deliver a
signal to a process when its parent dies (PR_SET_PDEATHSIG); dbt then stops at once, its open
transactions roll back on the server, and the re-run starts from clean tables.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def bind_to_parent(sig: int = signal.SIGTERM) -> bool:
    """Ask the kernel to send `sig` to this process when its parent exits (Linux); False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), sig)
    return True


def main() -> None:
    bind_to_parent()
    from dbt.cli.main import cli

    sys.exit(cli())


if __name__ == "__main__":
    main()
