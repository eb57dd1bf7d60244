# lvsadmin: two commands on a fresh Debian 12 machine, as root.
#   make run    set up and serve the GUI on :3636 plus the worker (SQLite by default)
#   make test   install everything the tests need (apt, pip, the test kernel) and run them all
#   make bench  the benchmarks, figures printed

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
MAKEMESSAGES_FLAGS := --add-location=file --no-obsolete --ignore=.venv --ignore=var \
	--ignore=tests --ignore=bench --ignore=scripts --ignore=artifacts --ignore=staticfiles
export PIP_DISABLE_PIP_VERSION_CHECK=1

.PHONY: run test test-unit test-lab lint bench venv venv-test native node-test system-deps-run system-deps-test messages makemessages

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q -r requirements.txt
	touch $@

$(VENV)/.test: requirements.txt requirements-test.txt $(VENV)/.runtime
	$(PIP) install -q -r requirements-test.txt
	touch $@

# The venv, and the C extension modules (the connect scanner's hot path) built in place for its
# Python with Debian's gcc (a module newer than its source is left as it is).
venv: $(VENV)/.runtime
	$(PY) scripts/build_native.py
venv-test: $(VENV)/.test
native: venv

# axe-core for the accessibility browser test, pinned by its lock file (npm from Debian).
AXE_DIR := tests/browser/axe
$(AXE_DIR)/node_modules/.installed: $(AXE_DIR)/package.json $(AXE_DIR)/package-lock.json
	npm ci --prefix $(AXE_DIR) --no-audit --no-fund --ignore-scripts
	touch $@

node-test: $(AXE_DIR)/node_modules/.installed

system-deps-run:
	bash scripts/install-system-deps.sh run

system-deps-test:
	bash scripts/install-system-deps.sh test

# The translations (locale/*/LC_MESSAGES/*.po) compiled to .mo with Debian's gettext (msgfmt);
# the .mo files are build output, not in git.
messages: venv
	$(PY) manage.py compilemessages --ignore=$(VENV) --ignore=var -v 0

# After marking new text: the catalogue brought up to date (then translate what is new; a test
# fails while a msgid is missing, untranslated or fuzzy). The same command as that test's.
makemessages: venv
	$(PY) manage.py makemessages -l es $(MAKEMESSAGES_FLAGS)

run: system-deps-run venv native messages
	bash scripts/run.sh

lint: venv-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Unit, view, MariaDB and browser tests on the host; then the lab tests inside the VM.
test: system-deps-test venv-test native node-test messages
	$(MAKE) lint
	bash scripts/test.sh

test-unit: venv-test native node-test messages
	$(VENV)/bin/pytest

test-lab: system-deps-test venv-test native
	bash scripts/lab.sh

bench: system-deps-test venv-test native
	bash scripts/bench.sh
