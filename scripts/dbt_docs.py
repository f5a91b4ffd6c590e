"""`make docs`: dbt docs for the warehouse, generated against the configured database."""

import os
import subprocess
import sys
from pathlib import Path

from core.database import bootstrap, warehouse_params
from runtime.dbt_project import DBT_PROJECT_DIR


def main() -> int:
    params = warehouse_params()
    bootstrap(params)
    env = {**os.environ, **params.dbt_env()}
    dbt = str(Path(sys.executable).with_name("dbt"))
    args = [
        dbt,
        "docs",
        "generate",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
    ]
    code = subprocess.call(args, env=env)
    if code == 0:
        print(
            f"dbt docs: {DBT_PROJECT_DIR / 'target' / 'index.html'} (serve with `.venv/bin/dbt docs serve`)"
        )
    return code


if __name__ == "__main__":
    sys.exit(main())
