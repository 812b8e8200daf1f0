# The two commands a fresh machine needs are `make run` and `make test`; every other
# target is a step of theirs. Targets depend on the virtualenv's stamp, so a second
# `make` installs nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The lock of every transitive dependency with its hashes (requirements.lock for the
# service, as the Dockerfile installs it; requirements-dev.lock adds the dev tools) is made
# by this pinned pip-tools, in a virtualenv of its own: `make lock` after changing a pin
# in pyproject.toml (tests/test_lock.py fails until the lock follows).
LOCK_TOOL := pip-tools==7.5.2
LOCK_VENV := .venv-lock
LOCK_FLAGS := --quiet --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links

.PHONY: install run test lint typecheck openapi openapi-check bench bench-export bench-scale clean chromium fault-test lock

$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

lock:
	test -x $(LOCK_VENV)/bin/pip-compile || \
		($(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet $(LOCK_TOOL))
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) --extra=dev --output-file=requirements-dev.lock pyproject.toml
	# The service's lock starts from the dev lock's pins (pip-compile keeps the versions it
	# finds in its output file), so tests and the image run the same versions.
	cp requirements-dev.lock requirements.lock
	$(LOCK_VENV)/bin/pip-compile $(LOCK_FLAGS) --output-file=requirements.lock pyproject.toml

install: $(STAMP)

run: install
	$(BIN)/dho migrate
	$(BIN)/dho demo
	$(BIN)/dho serve --host 127.0.0.1 --port 8000

# The console's browser tests drive Debian's chromium (never a downloaded browser).
chromium:
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)

test: install chromium openapi-check lint typecheck
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

openapi: install
	$(BIN)/python -m service.openapi_spec write openapi/openapi.json

openapi-check: install
	$(BIN)/python -m service.openapi_spec check openapi/openapi.json

# Ingest, the console's queue page, the journal's outbox and the export at its quick
# size: under five minutes. The export at its full size is `make bench-export`.
BENCH_EXPORT_ARGS ?= --quick
bench: install
	$(BIN)/python -m bench.run $(BENCH_ARGS)
	$(BIN)/python -m bench.console
	$(BIN)/python -m bench.journal $(BENCH_JOURNAL_ARGS)
	$(BIN)/python -m bench.export $(BENCH_EXPORT_ARGS)

# The export benchmark at its full size (10 million readings of 2,000 patients, about
# 35 minutes on 2 cores).
bench-export: install
	$(BIN)/python -m bench.export $(BENCH_EXPORT_FULL_ARGS)

# Issue 18's figures at the size of a region (20,000 patients, 2 million readings by
# default; BENCH_SCALE_ARGS="--patients 100000 --readings 10000000" for the full size).
bench-scale: install
	$(BIN)/python -m bench.scale $(BENCH_SCALE_ARGS)

# The fault harness (issue #17) on a PostgreSQL cluster of its own, for FAULT_SECONDS of
# load; a 30-second run of it is part of `make test`.
FAULT_SECONDS ?= 90
fault-test: install
	$(BIN)/python -m tests.faults.harness --seconds $(FAULT_SECONDS)

clean:
	rm -rf $(VENV) $(LOCK_VENV) var .pytest_cache .mypy_cache .ruff_cache
