# Kairoo Platform. A fresh machine needs only Python 3.11: `make demo`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
# Defined before any rule names it: make expands prerequisites when it reads them.
CHECKOV_VENV := .venv-checkov
PY := $(VENV)/bin/python
STATE ?= $(CURDIR)/.kairoo
# The domain packages, type-checked by `make lint`.
TYPED := core taxonomy generator ingestion quality ml plans monitoring boards
export KAIROO_STATE_DIR ?= $(STATE)
export DAGSTER_HOME ?= $(KAIROO_STATE_DIR)/dagster
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DAGSTER_DISABLE_TELEMETRY := true
export MLFLOW_DISABLE_TELEMETRY := true
export PYTHONPATH := $(CURDIR)
# dbt and dagster-dbt find the `dbt` executable on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test test-fast install manifest ui mlflow bench lint docs stop clean lock image boards chromium

## demo: set up a fresh machine and run the nightly pipeline on demo data
demo: install manifest
	$(PY) -m scripts.demo

## test: lint, then the whole test suite (real PostgreSQL, dbt, GX, MLflow, offline deploy/ validation)
test: install manifest lint chromium $(CHECKOV_VENV)/.installed
	$(PY) -m pytest -q --durations=15

## test-fast: the domain and unit tests (no dbt build, no whole night, no training): under a minute
test-fast: install manifest
	$(PY) -m pytest -q -m "not slow" --durations=5

## chromium: the Debian browser the boards' browser tests drive (Playwright's own download needs the
## internet); installed only when absent, quietly
chromium:
	@test -x /usr/bin/chromium || { echo "installing Debian chromium for the browser tests"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==0.13.8
	$(VENV)/bin/uv pip install -q --python $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	touch $@

# checkov (tests/test_deploy.py) pins packaging<24, which pytest 9 cannot share: its own venv, own lock.
$(CHECKOV_VENV)/.installed: deploy/checkov.lock $(VENV)/.installed
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(VENV)/bin/uv pip install -q --python $(CHECKOV_VENV)/bin/python -r deploy/checkov.lock
	touch $@

## manifest: dbt's manifest.json, which @dbt_assets reads at load (a build product, never committed)
manifest: install
	$(VENV)/bin/dagster-dbt project prepare-and-package --file runtime/dbt_project.py

## boards: the dashboards (executive, observability, review queue) on http://127.0.0.1:8501
boards: install
	$(PY) -m boards.serve --port 8501

## ui: the Dagster UI on http://127.0.0.1:3000 over this project's instance
ui: install manifest
	@mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml || cp deploy/dagster.local.yaml $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

## mlflow: the MLflow UI over the embedded tracking store
mlflow: install
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(KAIROO_STATE_DIR)/mlflow/mlflow.db --host 127.0.0.1 --port 5000

## bench: every benchmark, one JSON line each. The generator worlds (S, M) run through the nightly job
## once and are shared by bench_monitoring, bench_night and bench_ranking (benchmarks/night_world.py).
bench: install manifest
	@export KAIROO_BENCH_WORLD_DIR=$$(mktemp -d /tmp/kairoo-bench-worlds-XXXXXX); \
	status=0; for b in benchmarks/bench_*.py; do $(PY) $$b || { status=1; break; }; done; \
	rm -rf $$KAIROO_BENCH_WORLD_DIR; exit $$status

## lint: ruff, the layer contracts (import-linter), mypy on the domain packages, sqlfluff on the dbt models
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy $(TYPED)
	$(VENV)/bin/sqlfluff lint dbt_project/models

docs: install manifest
	$(PY) -m scripts.dbt_docs

## stop: stop the embedded PostgreSQL
stop:
	-$(PY) -c "from core.settings import get_settings; from core.database import stop_embedded; stop_embedded(get_settings().pg_dir)"

clean: stop
	rm -rf $(KAIROO_STATE_DIR) dbt_project/target

## lock: re-resolve requirements.lock from pyproject.toml
lock: install
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev -p 3.11 -o requirements.lock
	$(VENV)/bin/uv pip compile deploy/checkov.in -p 3.11 -o deploy/checkov.lock

## image: the code-location image (deploy/Dockerfile); skipped with the reason where no Docker engine answers
IMAGE_REPOSITORY ?= kairoo-platform
IMAGE_PUSH ?=
image: install
	$(PY) -m deploy.image --repository "$(IMAGE_REPOSITORY)" $(if $(IMAGE_PUSH),--push)
