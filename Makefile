# lvsadmin: two commands on a fresh Debian 12 machine, as root.
#   make run    set up and serve the GUI on :3636 plus the worker (SQLite by default)
#   make test   install everything the tests need (apt, pip, the test kernel) and run them all
#   make bench  the benchmarks, figures printed

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: run test test-unit test-lab lint bench venv venv-test system-deps-run system-deps-test

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.test: requirements.txt requirements-test.txt $(VENV)/.runtime
	$(PIP) install -q -r requirements-test.txt
	touch $@

venv: $(VENV)/.runtime
venv-test: $(VENV)/.test

system-deps-run:
	bash scripts/install-system-deps.sh run

system-deps-test:
	bash scripts/install-system-deps.sh test

run: system-deps-run venv
	bash scripts/run.sh

lint: venv-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Unit, view, MariaDB and browser tests on the host; then the lab tests inside the VM.
test: system-deps-test venv-test
	$(MAKE) lint
	bash scripts/test.sh

test-unit: venv-test
	$(VENV)/bin/pytest

test-lab: system-deps-test venv-test
	bash scripts/lab.sh

bench: system-deps-test venv-test
	bash scripts/bench.sh
