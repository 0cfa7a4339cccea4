# The two commands: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt | sha1sum | cut -c1-12)
PORT ?= 8000
LOCALSTRIPE_PORT ?= 8420
export LOCALSTRIPE_PORT

.PHONY: run test venv install migrate seed lint check browser ci clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Python compiles every module it imports from source when no bytecode is
# cached: 6.6 CPU-s for django.setup() here instead of 1.8, in every test
# process, Celery worker, gunicorn worker and manage.py the suite starts. Some
# machines set PYTHONDONTWRITEBYTECODE, so nothing would ever be cached: let
# every command started from here write the bytecode of what it imports, once.
# Compiling the whole virtualenv at install instead costs 30 CPU-s for 10,800
# modules, of which the shop and its tests import under a third.
export PYTHONDONTWRITEBYTECODE :=

# uv (pinned in requirements/bootstrap.txt) installs the exact pins; --exact
# would also remove strays, but a developer's extra tools are theirs to keep.
$(STAMP): $(BIN)/python requirements/bootstrap.txt requirements/base.txt requirements/local.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/bootstrap.txt
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements/local.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# Debian's Chromium for the browser tests; Playwright never downloads one.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing Debian's chromium for the browser tests…"; \
	    (apt-get install -y -qq chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium)) >/dev/null; \
	  else echo "note: /usr/bin/chromium missing; browser tests will be skipped (apt-get install chromium)"; fi; \
	fi

run: seed
	$(BIN)/python scripts/run_dev.py --port $(PORT) $(if $(filter-out 0,$(RUNSERVER)),--runserver)

# pytest-xdist: one test process per CPU (TEST_WORKERS=0 runs in-process).
# Each worker has its own database copy, localstripe, cache keys and queues.
TEST_WORKERS ?= auto
test: install browser
	$(BIN)/python -m tests.dbtemplate
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/pre-commit run --all-files

# The deploy check runs production settings with throwaway secrets, so it
# proves that every secret is required and that the hardening is complete.
check: install
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/python scripts/check_deploy.py

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles .pytest_cache .ruff_cache .mypy_cache
