#!/usr/bin/env bash
# Every test: host tests (unit, views, MariaDB probes, the browser) then the VM lab (real IPVS).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p artifacts
status=0
.venv/bin/pytest -p no:cacheprovider tests --junitxml=artifacts/host-junit.xml || status=$?
bash scripts/lab.sh || status=$?
exit $status
