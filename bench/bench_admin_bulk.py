"""The admin's bulk actions and the AUDIT page at 10,000 real servers (1,000 virtual x 10).

    .venv/bin/python bench/bench_admin_bulk.py

Targets: "Deactivate selected" / "Activate selected" / "Set weight" on every real server, each
one request well under a second (one per-row save took 25.3 s for 10,002, with 10,002 audit
entries), with one audit entry and a query count that does not grow with the selection; AUDIT
with 10,000 entries, filtered or not, under 300 ms. Runs on bench_pages' throw-away SQLite
database in a temporary LVSADMIN_STATE_DIR; touches nothing else. Exit status 1 on a miss, judged
as bench_metrics.py judges (the CPU time on a loaded machine).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time

import bench_pages  # its import sets up Django on a throw-away state directory
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from monitoring.models import AuditEntry  # noqa: E402
from realservers.models import RealServer  # noqa: E402
from virtualservers.models import VirtualServer  # noqa: E402

BULK_TARGET_MS = 1000.0
PAGE_TARGET_MS = 300.0
CHANGELIST = "/admin/realservers/realserver/"


def bulk(client: Client, action: str, **extra: str) -> tuple[float, int, int]:
    """One admin action on every real server ("select all"): ms, queries, audit entries added."""
    first = RealServer.objects.values_list("pk", flat=True).first()
    data = {"action": action, "select_across": "1", "index": "0", "_selected_action": [first]}
    entries = AuditEntry.objects.count()
    with CaptureQueriesContext(connection) as queries:
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.post(CHANGELIST, {**data, **extra})
        ms = (time.perf_counter() - started) * 1000
        cpu_ms = (time.process_time() - started_cpu) * 1000
    assert response.status_code == 302, response.status_code
    return ms, cpu_ms, len(queries), AuditEntry.objects.count() - entries


def page(client: Client, url: str) -> tuple[float, float]:
    """Median wall and CPU time (ms) of RUNS requests after a warm-up."""
    assert client.get(url).status_code == 200
    times, cpu = [], []
    for _ in range(bench_pages.RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        assert client.get(url).status_code == 200
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return statistics.median(times), statistics.median(cpu)


def verdict(ms: float, cpu_ms: float, target: float) -> str:
    """As bench_metrics.py: on a loaded machine (1-minute load above the cores) the wall time
    includes waiting for a core, so only the CPU time (SQLite runs in this process) decides."""
    quiet = os.getloadavg()[0] < (os.cpu_count() or 1)
    return "ok" if (ms if quiet else cpu_ms) < target else "SLOW"


def main() -> int:
    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", password=None)
    client = Client()
    client.force_login(user)
    failed = False
    queries_seen = set()
    for virtuals in (100, 1000):
        bench_pages.add_virtuals(VirtualServer.objects.count(), virtuals)
        servers = RealServer.objects.count()
        print(f"{servers} real servers ({virtuals} virtual servers x 10)")
        bulk(client, "activate")  # warm-up: every row is active already, nothing changes
        for label, action, extra in (
            ("Deactivate selected", "deactivate", {}),
            ("Activate selected", "activate", {}),
            ("Set weight of selected", "set_weight", {"apply": "1", "weight": "7"}),
        ):
            ms, cpu_ms, count, entries = bulk(client, action, **extra)
            queries_seen.add((label, count))
            said = verdict(ms, cpu_ms, BULK_TARGET_MS) if entries == 1 else "ENTRIES"
            failed |= said != "ok"
            print(
                f"  admin {label:<24} {ms:8.1f} ms (CPU {cpu_ms:6.1f})  {count:3d} queries"
                f"  {entries} audit entry  [{said}]"
            )
        RealServer.objects.update(weight=1)
    grows = len({label for label, _count in queries_seen}) != len(queries_seen)
    if grows:
        print("query count grows with the selection:", sorted(queries_seen))
        failed = True

    AuditEntry.objects.bulk_create(
        (
            AuditEntry(
                username=f"user{n % 7}",
                address="127.0.0.1",
                action=("change", "activate", "deactivate")[n % 3],
                target=f"virtual server vs{n % 1000:05d}",
                changes={"port": [80, 81]},
            )
            for n in range(10_000)
        ),
        batch_size=2000,
    )
    print(f"AUDIT with {AuditEntry.objects.count()} entries")
    for label, url in (
        ("AUDIT, newest page", "/audit/"),
        ("AUDIT, last page", "/audit/?page=999"),
        ("AUDIT, by user and action", "/audit/?user=user3&action=change"),
        ("AUDIT, by what (vs00999)", "/audit/?what=vs00999"),
    ):
        ms, cpu_ms = page(client, url)
        said = verdict(ms, cpu_ms, PAGE_TARGET_MS)
        failed |= said != "ok"
        print(f"  {label:<34} {ms:8.1f} ms (CPU {cpu_ms:6.1f})  [{said}]")
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    print(f"  load {load:.1f} on {cores} cores ({'quiet' if load < cores else 'loaded'})")
    print("RESULT:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        status = main()
    finally:
        connection.close()
        shutil.rmtree(bench_pages.STATE, ignore_errors=True)
    sys.exit(status)
