"""The dbt project handle, alone in its module so `dagster-dbt project prepare-and-package` can load it.

`make manifest` (and CI) build dbt_project/target/manifest.json with that command; `dagster dev`
prepares it on load. The manifest is a build product and never committed.
"""

from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

kairoo_dbt = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
kairoo_dbt.prepare_if_dev()
