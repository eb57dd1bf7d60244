"""CONTROL/MONITORING at 1,000 and 10,000 virtual servers x 10 real servers: SQLite beside MariaDB.

    .venv/bin/python bench/bench_control_mariadb.py

The data of bench_pages.py (the 1,000 x 10 draft, published, and a worker's report: 10,000
health rows and ten minutes of connection samples), then a logged-in GET of CONTROL/MONITORING (`/`)
through Django's test client, median of 7 after a warm-up, on each database in turn: a throw-away
SQLite file, then a throw-away MariaDB server (scripts/testbed/mariadb.py: its own data directory
on tmpfs, a unix socket, stopped afterwards); after Apply, then after a bulk deactivation of every
real server. Prints ms per request on each, the ratio, and MET or MISSED against the page's
server-time goal (150 ms, issue 23); exits 0 unless a run crashed.
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
SIZES = (1000, 10000)
TARGET_MS = 150.0
MEASURE = "--measure"


def measure_here() -> None:
    """In a child whose environment names the database: build, then time the page."""
    import bench_pages as pages  # sets Django up on this process's environment
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from monitoring.publish.revisions import publish
    from realservers.models import RealServer

    try:
        call_command("migrate", verbosity=0)
        user = User.objects.create_superuser("bench", password=None)
        client = Client()
        client.force_login(user)
        figures = {}
        already = 0
        for total in SIZES:
            started = time.perf_counter()
            pages.add_virtuals(already, total)
            publish(user, f"{total} virtual servers")
            pages.report_worker(already, total, total)
            already = total
            built = time.perf_counter() - started
            applied, queries = pages.measure(client, "/")
            RealServer.objects.update(active=False)
            bulk, bulk_queries = pages.measure(client, "/")
            RealServer.objects.update(active=True)
            figures[total] = {"ms": applied, "bulk_ms": bulk, "queries": queries,
                              "bulk_queries": bulk_queries, "built_s": built}  # fmt: skip
        print(json.dumps(figures))
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
    for total, row in figures.items():
        for what, ms, queries in (
            ("after Apply", row["ms"], row["queries"]),
            ("all deactivated", row["bulk_ms"], row["bulk_queries"]),
        ):
            verdict = "MET" if ms < TARGET_MS else "MISSED"
            print(
                f"  CONTROL/MONITORING (/) on {label:<8} {int(total):>6} x 10, {what:<16}"
                f" {ms:8.1f} ms  {queries:3d} queries  [{verdict}: goal {TARGET_MS:.0f} ms]"
            )
    print(f"  ({label}: whole run {time.perf_counter() - started:.0f} s)")
    return figures


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from scripts.testbed.mariadb import AppDatabaseServer

    print("Logged-in GET of CONTROL/MONITORING, SQLite beside MariaDB")
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
        print("RESULT: FAILED (a run crashed)")
        return 1
    for total in sqlite:
        ratio = mariadb[total]["ms"] / sqlite[total]["ms"]
        print(f"  MariaDB / SQLite at {total} x 10: {ratio:.2f}")
    missed = [
        f"{label} {total} x 10"
        for label, figures in (("SQLite", sqlite), ("MariaDB", mariadb))
        for total, row in figures.items()
        if max(row["ms"], row["bulk_ms"]) >= TARGET_MS
    ]
    print("RESULT:", f"MISSED: {', '.join(missed)}" if missed else "MET")
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == [MEASURE]:
        measure_here()
    else:
        sys.exit(main())
