# data-platform — one command per job. Each target sets up what it needs (virtualenv; Debian
# packages when run as root). STACK selects the stack for review/preview/up (default production).
SHELL := /bin/bash
# Let Python cache bytecode of the project (some environments set this; every run would recompile).
unexport PYTHONDONTWRITEBYTECODE
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= production

.PHONY: help setup system-deps review review-json review-markdown test lint unit policies integration ops \
        bench drill config-reference coverage preview up clean

help:
	@echo "make review            offline review of STACK (default production): tree, policies, cost"
	@echo "make test              lint + every test tier (unit, policies, integration, ops, review)"
	@echo "make bench             benchmark the production review (floor, end to end, by phase, scaling to ~3,000)"
	@echo "make drill             failover/promote/lag/pooling figures on real local servers"
	@echo "make preview|up STACK=dev   the real Pulumi CLI (needs pulumi + AWS credentials)"

# Setup reports on stderr: `make review-json > f` must leave only the JSON on stdout.
$(VENV)/.installed: pyproject.toml
	@echo "setup: creating $(VENV) (pinned dependencies, a few minutes)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(VENV)/bin/pip install -q --upgrade pip >&2
	@$(VENV)/bin/pip install -q -e '.[dev]' >&2
	@touch $@

setup: $(VENV)/.installed

system-deps:
	@scripts/system-deps.sh

review: setup
	$(PY) -m review --stack $(STACK)

review-json: setup
	@$(PY) -m review --stack $(STACK) --format json

review-markdown: setup
	@$(PY) -m review --stack $(STACK) --format markdown

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy infra components policies cost review ops scripts

unit: setup
	$(PY) -m pytest tests/unit

policies: setup
	$(PY) -m pytest tests/policies

integration: setup system-deps
	$(PY) -m pytest tests/integration

ops: setup system-deps
	$(PY) -m pytest tests/ops

test: setup system-deps lint
	$(PY) -m pytest tests

# BASELINE=DIR: another checkout (git worktree add DIR <commit>) whose reviews run in the same rounds.
bench: setup
	$(PY) -m review.bench $(if $(BASELINE),--baseline $(BASELINE))

drill: setup system-deps
	$(PY) -m tests.integration.drill

config-reference: setup
	$(PY) scripts/config_reference.py

coverage: setup
	$(PY) -m policies.coverage

preview:
	pulumi preview --stack $(STACK) --policy-pack policies

up:
	pulumi up --stack $(STACK) --policy-pack policies

clean:
	rm -rf $(VENV) node_modules .bench
