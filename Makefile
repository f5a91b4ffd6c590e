# Kairoo Platform. A fresh machine needs only Python 3.11: `make demo`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STATE ?= $(CURDIR)/.kairoo
export KAIROO_STATE_DIR ?= $(STATE)
export DAGSTER_HOME ?= $(KAIROO_STATE_DIR)/dagster
export DBT_SEND_ANONYMOUS_USAGE_STATS := False
export DAGSTER_DISABLE_TELEMETRY := true
export MLFLOW_DISABLE_TELEMETRY := true
export PYTHONPATH := $(CURDIR)
# dbt and dagster-dbt find the `dbt` executable on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: demo test install manifest ui mlflow bench lint docs stop clean lock

## demo: set up a fresh machine and run the nightly pipeline on demo data
demo: install manifest
	$(PY) -m scripts.demo

## test: lint, then the whole test suite (real PostgreSQL, dbt, GX, MLflow)
test: install manifest lint
	$(PY) -m pytest -q --durations=15

install: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv==0.13.8
	$(VENV)/bin/uv pip install -q --python $(PY) -r requirements.lock
	$(VENV)/bin/uv pip install -q --python $(PY) --no-deps -e .
	touch $@

## manifest: dbt's manifest.json, which @dbt_assets reads at load (a build product, never committed)
manifest: install
	$(VENV)/bin/dagster-dbt project prepare-and-package --file runtime/dbt_project.py

## ui: the Dagster UI on http://127.0.0.1:3000 over this project's instance
ui: install manifest
	@mkdir -p $(DAGSTER_HOME) && test -f $(DAGSTER_HOME)/dagster.yaml || cp deploy/dagster.local.yaml $(DAGSTER_HOME)/dagster.yaml
	$(VENV)/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

## mlflow: the MLflow UI over the embedded tracking store
mlflow: install
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(KAIROO_STATE_DIR)/mlflow/mlflow.db --host 127.0.0.1 --port 5000

## bench: every benchmark, one JSON line each
bench: install manifest
	@for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

## lint: ruff on Python, sqlfluff (postgres) on the dbt models
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
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
