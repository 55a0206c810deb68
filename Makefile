# The front door. `make demo` and `make test` work from a fresh clone on Debian/Ubuntu with Python 3.11+
# and Node 20+: they install what they need (venv, Python deps, worker and web npm deps, the /build frontend,
# PostgreSQL + pgTAP, Chromium for the browser tests).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
BENCH_STAMP := $(VENV)/.bench-installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
NPM_STAMP := worker_container/node_modules/.installed-$(shell cat worker_container/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
# The starter's node_modules, installed once per lockfile into the read-only install seed (a fresh data dir's
# first job then does not install; see README, Operations).
SEED_STAMP := worker_container/install-seed/.seeded-$(shell cat worker_container/starter/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
MIRROR_STAMP := worker_container/mirror/node_modules/.installed-$(shell cat worker_container/mirror/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
WEB_STAMP := web/node_modules/.installed-$(shell cat web/package-lock.json 2>/dev/null | sha1sum | cut -c1-12)
# What the /build frontend's static files are built from: rebuilt when any of it changes.
WEB_SOURCES := $(shell find web/src web/index.html web/vite.config.ts web/tsconfig.json -type f 2>/dev/null | grep -v '/schema.d.ts$$') openapi.yaml $(wildcard examples/projects/*.json)
export NEXT_TELEMETRY_DISABLED := 1

.PHONY: help deps system-deps web demo test lint format bench dev clean

help:
	@echo "make demo   - run the local stack, generate the default example app, download its ZIP"
	@echo "make test   - lint, then the whole suite (Vitest, pytest with pgTAP and the browser tests)"
	@echo "make lint   - ruff, ruff format --check, mypy, hadolint, and tsc + eslint of web/"
	@echo "make web    - install web/'s npm deps and build the /build frontend into web/dist"
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

$(SEED_STAMP): worker_container/starter/package.json worker_container/starter/package-lock.json $(PY_STAMP)
	rm -rf worker_container/install-seed
	$(PY) scripts/seed-install-cache
	touch $@

# The CDN assets previews link, served to the visual fidelity renderer (appgen/visual/mirror.py).
$(MIRROR_STAMP): worker_container/mirror/package.json worker_container/mirror/package-lock.json
	npm ci --prefix worker_container/mirror --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -f worker_container/mirror/node_modules/.installed-*
	touch $@

$(WEB_STAMP): web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	rm -f web/node_modules/.installed-*
	touch $@

# The /build frontend `appgen dev` serves (its build regenerates the API client from openapi.yaml).
web/dist/index.html: $(WEB_STAMP) $(WEB_SOURCES)
	npm --prefix web run build --silent

web: web/dist/index.html

system-deps:
	@scripts/install-system-deps

deps: system-deps $(PY_STAMP) $(NPM_STAMP) $(SEED_STAMP) $(MIRROR_STAMP) web

lint: $(PY_STAMP) $(WEB_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/hadolint $(wildcard */Dockerfile)
	npm --prefix web run lint --silent

format: $(PY_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Two pytest processes, each taking whole files (a module's stack or story is set up once) in collection
# order, so the slow end-to-end files start first and the small ones fill in behind them: a serial run
# keeps less than one of two cores busy, waiting on builds, browsers and subprocesses.
TEST_WORKERS ?= 2

test: deps lint
	npm --prefix web test --silent
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

demo: deps
	$(PY) scripts/demo.py

dev: deps
	$(VENV)/bin/appgen dev

bench: deps $(BENCH_STAMP)
	@scripts/install-system-deps --bench || echo "bench: wrk is missing, so the status benchmark will be skipped" >&2
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) worker_container/node_modules worker_container/install-seed web/node_modules web/dist .appgen .pytest_cache .mypy_cache .ruff_cache
