# mediasync: `make run` starts everything on embedded defaults, `make test` runs the suite.
# Installs are pinned by requirements/constraints.txt (a uv-resolved lock for Python 3.11 / Linux);
# `make lock` refreshes it after a dependency in pyproject.toml changed.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
LOCK := requirements/constraints.txt
LOCK_PYTHON ?= 3.11

.PHONY: install lock lint run test test-fast bench dist clean

$(PY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml $(LOCK) | $(PY)
	$(VENV)/bin/pip install -q -c $(LOCK) -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# One command to refresh the lock: resolve pyproject.toml (every extra) plus requirements/constraints.in
# (the supported Airflow release) for Python $(LOCK_PYTHON) on Linux with uv. Pins already in the lock
# are kept where they still fit; `make lock LOCK_FLAGS=--upgrade` moves everything to the newest.
LOCK_FLAGS ?=
lock: | $(PY)
	@test -x $(VENV)/bin/uv || $(VENV)/bin/pip install -q uv
	$(VENV)/bin/uv pip compile pyproject.toml requirements/constraints.in --all-extras \
	  --python-version $(LOCK_PYTHON) --python-platform x86_64-unknown-linux-gnu \
	  --no-emit-package mediasync $(LOCK_FLAGS) -o $(LOCK)

# Static checks, as CI runs them: ruff (lint), mypy (types) and import-linter (the layers may only be
# imported downwards), all configured in pyproject.toml.
lint: install
	$(VENV)/bin/ruff check
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

run: install
	$(PY) -m mediasync.devstack

# pytest exits 5 when it collected no test: that is a failure here, never a pass.
test: install
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$rc

# The quick loop while developing: unit and integration tests (real PostgreSQL and the emulator, no
# Airflow server, no browser) — a few minutes instead of the whole suite's half hour.
test-fast: install
	$(PY) -m pytest tests/unit tests/integration $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test-fast: no tests were collected" >&2; exit 1; fi; exit $$rc

bench: install
	$(VENV)/bin/pip install -q -e '.[dev,bench]'
	@for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

# The wheel and sdist (SQL, static files and the DAG files inside) in dist/.
dist: install
	$(PY) -m build --outdir dist .

clean:
	rm -rf .mediasync test-artifacts .pytest_cache dist build
