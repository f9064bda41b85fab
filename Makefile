# ClaimFlow: `make demo` runs a batch through every stage; `make test` runs the whole suite.
# Both set up what they need first (uv, Python packages, the Kafka jars); nothing by hand.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(PYTHON) -m uv
ARGS ?=
export UV_LINK_MODE ?= copy

.PHONY: setup demo up down status test lint format bench schemas docs clean

setup:
	@$(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet --disable-pip-version-check "uv>=0.5"
	@$(UV) sync --all-packages --frozen --quiet
	@$(UV) run --frozen python -m claimflow_local.kafka fetch

demo: setup
	@$(UV) run --frozen claimflow up
	@$(UV) run --frozen claimflow demo $(ARGS)

up: setup
	@$(UV) run --frozen claimflow up

down:
	@$(UV) run --frozen claimflow down

status:
	@$(UV) run --frozen claimflow status

test: setup
	@$(UV) run --frozen ruff check .
	@$(UV) run --frozen ruff format --check .
	@$(UV) run --frozen pytest $(ARGS)

lint:
	@$(UV) run --frozen ruff check .

format:
	@$(UV) run --frozen ruff check --fix .
	@$(UV) run --frozen ruff format .

bench: setup
	@$(UV) run --frozen python bench/run.py $(ARGS)

schemas:
	@$(UV) run --frozen python -m claimflow_shared.contracts

docs:
	@$(UV) run --frozen claimflow docs

clean: down
	rm -rf .claimflow
