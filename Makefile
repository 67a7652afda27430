# pyai sessions: `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install test lint format demo bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) ## create .venv with pyai and every extra and dev tool

test: $(STAMP) ## run the tests (PostgreSQL/Redis from PYAI_TEST_POSTGRES_URL / PYAI_TEST_REDIS_URL)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, ruff format --check, mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

demo: $(STAMP) ## store, read back (new process) and export a conversation; then an agent that remembers
	@cd examples && ../$(BIN)/python demo.py write && ../$(BIN)/python demo.py read && ../$(BIN)/python demo.py export && ../$(BIN)/python agent_demo.py

# The peer libraries live in their own virtualenv, next to pyai, never in pyai's dependencies.
PEERS       := bench/.venv-peers
PEERS_STAMP := $(PEERS)/.installed

$(PEERS_STAMP): bench/requirements-peers.txt pyproject.toml
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --upgrade pip
	$(PEERS)/bin/python -m pip install --quiet -r bench/requirements-peers.txt -e '.[postgres,redis]'
	touch $(PEERS_STAMP)

bench: $(PEERS_STAMP) ## pyai vs raw drivers and peer libraries, SQLite/PostgreSQL/Redis (docs/benchmarks.md)
	$(PEERS)/bin/python -m bench $(BENCH_ARGS)

clean: ## remove the virtualenv and caches
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache dist build examples/sessions.db* examples/demo-export.json
