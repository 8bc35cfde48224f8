# The two commands in README.md: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.PHONY: demo test install lint types check bench bench-quick tox docs clean

# The dev set: tests, linters, type checker, tox (make test, lint, types, docs, bench...).
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

# Only what the demo needs (the `demo` extra); after `make test` it is already there.
$(DEMO_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e ".[demo]"
	@touch $(DEMO_STAMP)

install: $(STAMP)

## demo: the example site and the AuthRocket emulator on http://127.0.0.1:8000/
demo: $(DEMO_STAMP)
	$(BIN)/python example_project/demo.py

## test: the whole test suite (SQLite + LocMem unless DATABASE_URL / CACHE_URL say otherwise)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## test-corner: the suite on another corner of the Python x Django matrix, in its own .venv-pyX.Y
## (Python from PATH or pyenv), e.g. make test-corner PY=3.13 DJANGO='Django>=6.1,<6.2'
PY ?= 3.13
DJANGO ?= Django>=6.1,<6.2
CORNER := .venv-py$(PY)

.PHONY: test-corner
test-corner:
	@# pyenv's own build first: its shims answer "command not found" for a version not selected.
	@test -x $(CORNER)/bin/python || { \
		py=$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/$(PY).*/bin/python 2>/dev/null | sort -V | tail -n 1); \
		[ -n "$$py" ] || py=$$(command -v python$(PY)); \
		"$$py" -m venv $(CORNER); }
	$(CORNER)/bin/python -m pip install --quiet --upgrade pip
	$(CORNER)/bin/python -m pip install --quiet -e ".[test]" "$(DJANGO)"
	$(CORNER)/bin/python -c "import sys, django; print('corner: Python', sys.version.split()[0], 'Django', django.__version__)"
	$(CORNER)/bin/python -m pytest $(PYTEST_ARGS)

## screenshot: the browser test, copying its dashboard screenshot to docs/_static/dashboard.png
## (the README's picture); needs Chromium, as the browser test does
.PHONY: screenshot
screenshot: $(STAMP)
	AUTHROCKET_UPDATE_SCREENSHOT=1 $(BIN)/python -m pytest -p no:randomly tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy django_authrocket

check: lint types test

# The peer in the middleware benchmark's row 4 and in peers.py; never a dependency of the package.
PEER := mozilla-django-oidc

## bench: the benchmarks, each printing a ratio against its baseline (issue 16's targets next
## to their goals: peers.py 1-3, middleware.py 3, sync.py 4, growth.py and sync.py 6); they
## print, they never fail on a ratio
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet $(PEER)
	$(BIN)/python benchmarks/verify_token.py
	$(BIN)/python benchmarks/middleware.py --decompose
	$(BIN)/python benchmarks/peers.py
	$(BIN)/python benchmarks/sync.py --tracemalloc
	$(BIN)/python benchmarks/growth.py

## bench-quick: the short versions CI runs
bench-quick: $(STAMP)
	$(BIN)/python -m pip install --quiet $(PEER)
	$(BIN)/python benchmarks/verify_token.py --quick
	$(BIN)/python benchmarks/middleware.py --quick
	$(BIN)/python benchmarks/peers.py --quick
	$(BIN)/python benchmarks/sync.py --quick
	$(BIN)/python benchmarks/growth.py --quick

.PHONY: load load-quick webhooks webhooks-quick

## load: the load run (benchmarks/load.py): gunicorn, 4 workers, jwt and api mode, 30 s each,
## then the cache-outage cell (Redis stopped mid-run and started again; PostgreSQL + Redis only).
## PostgreSQL + Redis when there (DATABASE_URL or the CI recipe's), else SQLite + LocMem.
load: $(STAMP)
	$(BIN)/python -m pip install --quiet gunicorn
	$(BIN)/python benchmarks/load.py

## load-quick: the short version CI runs (5 s per mode)
load-quick: $(STAMP)
	$(BIN)/python -m pip install --quiet gunicorn
	$(BIN)/python benchmarks/load.py --quick

## webhooks: a burst of 1,000 webhook events in 10 s (benchmarks/webhooks.py), gunicorn with 4
## workers on PostgreSQL + Redis when there; fails on a 5xx or an event not applied exactly once
webhooks: $(STAMP)
	$(BIN)/python -m pip install --quiet gunicorn
	$(BIN)/python benchmarks/webhooks.py

## webhooks-quick: the short version CI runs (200 events in 2 s)
webhooks-quick: $(STAMP)
	$(BIN)/python -m pip install --quiet gunicorn
	$(BIN)/python benchmarks/webhooks.py --quick

tox: $(STAMP)
	$(BIN)/tox

## docs: the documentation site (Sphinx, warnings are errors) in docs/_build/html
docs: $(STAMP)
	$(BIN)/python -m pip install -q -r docs/requirements.txt && $(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) .venv-py3.* build dist .pytest_cache .mypy_cache .ruff_cache
