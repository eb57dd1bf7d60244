"""CONTROL/MONITORING at 1,000 virtual servers x 10 real servers: SQLite beside MariaDB.

    .venv/bin/python bench/bench_control_mariadb.py

The data of bench_pages.py (the 1,000 x 10 draft, published, and a worker's report: 10,000
health rows and ten minutes of connection samples), then a logged-in GET of CONTROL/MONITORING (`/`)
through Django's test client, median of 7 after a warm-up, on each database in turn: a throw-away
SQLite file, then a throw-away MariaDB server (scripts/testbed/mariadb.py: its own data directory
on tmpfs, a unix socket, stopped afterwards). Prints ms per request on each and the ratio; the
goal is the page's own (300 ms) on both.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOTAL = 1000
TARGET_MS = 300.0
MEASURE = "--measure"


def measure_here() -> None:
    """In a child whose environment names the database: build, then time the page."""
    import bench_pages as pages  # sets Django up on this process's environment
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from monitoring.publish.revisions import publish

    try:
        call_command("migrate", verbosity=0)
        user = User.objects.create_superuser("bench", password=None)
        client = Client()
        client.force_login(user)
        started = time.perf_counter()
        # Ten minutes of connection samples, not bench_pages.py's hour: 600,000 rows took minutes
        # to write to either database, and the page reads the same few rows either way.
        pages.SAMPLES_PER_SERVER = 10
        pages.add_virtuals(0, TOTAL)
        publish(user, f"{TOTAL} virtual servers")
        pages.report_worker(0, TOTAL)
        built = time.perf_counter() - started
        ms, queries = pages.measure(client, "/")
        print(json.dumps({"ms": ms, "queries": queries, "built_s": built}))
    finally:
        connection.close()
        shutil.rmtree(pages.STATE, ignore_errors=True)


def run_child(label: str, env: dict[str, str]) -> dict | None:
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, __file__, MEASURE],
        cwd=ROOT,
        env={**os.environ, "LVSADMIN_LOG_LEVEL": "WARNING", **env},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        print(f"  {label}: FAILED\n{result.stdout}{result.stderr}")
        return None
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    verdict = "ok" if figures["ms"] < TARGET_MS else "SLOW"
    print(
        f"  CONTROL/MONITORING (/) on {label:<8} {figures['ms']:8.1f} ms  "
        f"{figures['queries']:3d} queries  [{verdict}]  (data built in {figures['built_s']:.1f} s,"
        f" whole run {time.perf_counter() - started:.0f} s)"
    )
    return figures


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from scripts.testbed.mariadb import AppDatabaseServer

    print(f"{TOTAL} virtual servers x 10 real servers, logged-in GET of CONTROL/MONITORING")
    sqlite = run_child("SQLite", {"LVSADMIN_DB_ENGINE": "sqlite"})
    scratch = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    base = scratch / f"lvsadmin-bench-mariadb-{os.getpid()}"
    server = AppDatabaseServer(base)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))  # cleans up below
    try:
        server.start()
        mariadb = run_child("MariaDB", server.env())
    finally:
        server.stop()
        shutil.rmtree(base, ignore_errors=True)
    if sqlite is None or mariadb is None:
        print("RESULT: FAIL")
        return 1
    ratio = mariadb["ms"] / sqlite["ms"]
    print(f"  MariaDB / SQLite: {ratio:.2f}")
    failed = max(sqlite["ms"], mariadb["ms"]) >= TARGET_MS
    print("RESULT:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == [MEASURE]:
        measure_here()
    else:
        sys.exit(main())
