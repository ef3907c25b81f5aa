# mediasync: `make run` starts everything on embedded defaults, `make test` runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: install run test bench clean

$(PY):
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PY)
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m mediasync.devstack

# pytest exits 5 when it collected no test: that is a failure here, never a pass.
test: install
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: no tests were collected" >&2; exit 1; fi; exit $$rc

bench: install
	$(VENV)/bin/pip install -q -e '.[dev,bench]'
	@for b in bench/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf .mediasync test-artifacts .pytest_cache
