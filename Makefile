# Two commands do all set-up on a fresh machine (Python 3.11+, git, make):
#   make run    venv + install + demo data + the whole pipeline (dvc repro)
#   make test   venv + install + ruff + the test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# dvc.yaml stages call `biomoe`: make the venv's commands visible to them.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install lock data run flow test lint format ui clean

# requirements.lock: the exact version of every package (torch's CPU build included) that
# pyproject.toml resolved to when it was written; every install takes it as constraints.
# Refresh it after changing a dependency with `make lock` (a clean venv, then pip freeze).
LOCK := requirements.lock

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) torch==2.13.0
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[dev]'
	touch $@

lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip
	.lock-venv/bin/pip install --quiet torch==2.13.0
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	{ echo "# Exact versions pyproject.toml resolved to (make lock); installs use it as constraints."; \
	  .lock-venv/bin/python --version | sed 's/^/# /'; \
	  .lock-venv/bin/pip freeze --exclude-editable; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK) && rm -rf .lock-venv

install: $(STAMP)

# data/raw comes from the DVC remote when it is reachable, else the generator rebuilds it
# byte-identically from params.yaml; either way it must match what data.dvc records.
data: install
	@$(BIN)/dvc pull --quiet data.dvc 2>/dev/null || \
		{ $(BIN)/biomoe demo-data && $(BIN)/biomoe verify-data; }

run: data
	$(BIN)/dvc repro
	$(BIN)/dvc push --quiet
	@echo
	@echo "Done. Look at:"
	@echo "  metrics:   $(BIN)/dvc metrics show   (metrics/classifier.json, metrics/evaluation.json)"
	@echo "  results:   reports/evaluation.md, plots/evaluation.png (per modality, representation, fusion, baselines)"
	@echo "  plots:     plots/confusion_matrix.png, plots/images/*.png, plots/pretrain_curves.png"
	@echo "  MLflow:    $(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db  (http://127.0.0.1:5000)"
	@echo "  model:     models:/pain-classifier@champion  (reports/registry.json)"

flow: data
	$(BIN)/python flows/retrain.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

test: lint
	$(BIN)/pytest

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

ui: install
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow/mlflow.db --host 127.0.0.1 --port 5000

clean:
	rm -rf data/interim data/images data/embeddings models reports metrics plots mlflow/mlflow.db mlflow/artifacts
