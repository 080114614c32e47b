# Two entry points that work on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: setup run test bench lint

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e ".[dev]"

run: setup
	$(BIN)/python experiments/demo.py

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python experiments/bench_codegen.py

lint: setup
	$(BIN)/ruff check platform tests experiments
