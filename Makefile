# The front door. `make demo` and `make test` work from a fresh clone on Debian/Ubuntu with Python 3.11+
# and Node 20+: they install what they need (venv, Python deps, worker npm deps, PostgreSQL + pgTAP).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
BENCH_STAMP := $(VENV)/.bench-installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
NPM_STAMP := worker_container/node_modules/.installed-$(shell cat worker_container/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
export NEXT_TELEMETRY_DISABLED := 1

.PHONY: help deps system-deps demo test lint format bench dev clean

help:
	@echo "make demo   - run the local stack, generate the default example app, download its ZIP"
	@echo "make test   - lint, then the whole suite (pytest + pgTAP)"
	@echo "make lint   - ruff, ruff format --check, mypy"
	@echo "make bench  - benchmarks (ratios against a baseline measured in the same run)"
	@echo "make dev    - the local stack in the foreground (appgen dev)"

$(PY_STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# The bench extra (matplotlib) is installed by `make bench` only, so `make test` never needs it.
$(BENCH_STAMP): $(PY_STAMP)
	$(VENV)/bin/pip install --quiet -e '.[dev,bench]'
	rm -f $(VENV)/.bench-installed-*
	touch $@

$(NPM_STAMP): worker_container/package.json worker_container/package-lock.json
	npm ci --prefix worker_container --no-audit --no-fund --loglevel=error
	rm -f worker_container/node_modules/.installed-*
	touch $@

system-deps:
	@scripts/install-system-deps

deps: system-deps $(PY_STAMP) $(NPM_STAMP)

lint: $(PY_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(PY_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: deps lint
	$(VENV)/bin/pytest

demo: deps
	$(PY) scripts/demo.py

dev: deps
	$(VENV)/bin/appgen dev

bench: deps $(BENCH_STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) worker_container/node_modules .appgen .pytest_cache .mypy_cache .ruff_cache
