#!/usr/bin/env bash
# Every test: host tests (unit, views, MariaDB probes, the browser) on SQLite, the host tests
# again with the application database on MariaDB, then the VM lab (real IPVS).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
status=0
.venv/bin/pytest -p no:cacheprovider tests --junitxml=artifacts/host-junit.xml || status=$?
# The same host suite on a MariaDB server that tests/support/appdb.py starts for this run alone
# (a fresh data directory on tmpfs, a unix socket, stopped and deleted afterwards, even when a
# test fails). Left out there: the tests about the SQLite file itself (marker sqlite_only), and
# the browser tests, which drive the same views the view tests cover on MariaDB: what they add
# is the browser's side (CSP, layout, JavaScript), which no database changes.
.venv/bin/python -m tests.support.appdb -- \
    .venv/bin/pytest -p no:cacheprovider tests -m "not sqlite_only" --ignore=tests/browser \
    --junitxml=artifacts/host-junit-mariadb.xml || status=$?
bash scripts/lab.sh || status=$?
exit $status
