#!/usr/bin/env bash
# Every test: host tests (unit, views, MariaDB probes, the browser) on SQLite, the host tests
# again with the application database on MariaDB, then the VM lab (real IPVS).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
status=0
.venv/bin/pytest -p no:cacheprovider tests --junitxml=artifacts/host-junit.xml || status=$?
# The host suite again on a MariaDB server that tests/support/appdb.py starts for this run alone
# (a fresh data directory on tmpfs, a unix socket, stopped and deleted afterwards, even when a
# test fails). It runs the tests the database can change (tests/conftest.py picks them: those
# that use the database, and the MySQL probes), not those marked sqlite_only, and not the
# browser tests: they drive views the view tests cover on MariaDB, and what they add is the
# browser's side (CSP, layout, JavaScript), which no database changes.
.venv/bin/python -m tests.support.appdb -- \
    .venv/bin/pytest -p no:cacheprovider tests --ignore=tests/browser \
    --junitxml=artifacts/host-junit-mariadb.xml || status=$?
bash scripts/lab.sh || status=$?
exit $status
