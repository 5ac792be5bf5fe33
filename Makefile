# Thin wrappers; the README names them. Everything installs into ./.venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: lab setup up down status test lint format bench clean

## make lab: install everything, start the lab stack, open JupyterLab on the notebooks
lab: setup
	$(BIN)/streamlab up
	$(BIN)/jupyter lab notebooks/

## make setup: create .venv and install streamlab with pinned dependencies
setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "streamlab needs Python 3.11 or newer; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip==25.3
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev,lab]'
	@touch $@

up: setup
	$(BIN)/streamlab up
down:
	$(BIN)/streamlab down
status:
	$(BIN)/streamlab status

## make test: lint, then the whole test suite (unit, integration, conformance vs emulator and real Kafka)
test: setup lint
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make bench: print the broker's figures (emulator and, with Java+Maven, real Kafka)
bench: setup
	$(BIN)/python bench/kafka_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
