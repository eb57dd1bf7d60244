"""Server-side time and SQL query count of the two list pages, at 100, 1,000 and 10,000 virtual
servers of 10 real servers each.

    .venv/bin/python bench/bench_pages.py [SIZES...]     (default: 100 1000 10000)

Goals: CONTROL/MONITORING under 150 ms whatever is pending (nothing after Apply, one change, a
bulk deactivation of every real server, the whole file before the first Apply), VIRTUAL SERVERS
and the live panel under 300 ms; a query count that does not grow with the number of servers.
Each line says MET or MISSED; the script exits 0 unless something crashed (a miss is a figure,
not a failure). Runs on a throw-away SQLite database in a temporary LVSADMIN_STATE_DIR.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STATE = tempfile.mkdtemp(prefix="lvsadmin-bench-")
os.environ["LVSADMIN_STATE_DIR"] = STATE
os.environ["LVSADMIN_LVS_CF"] = str(Path(STATE) / "ha" / "lvs.cf")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lvsadmin.settings")
os.environ.setdefault("LVSADMIN_LOG_LEVEL", "WARNING")
# The test client sends "Host: testserver"; the Host check would refuse it with a 400.
os.environ.setdefault("LVSADMIN_ALLOWED_HOSTS", "testserver")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from monitoring.live.servicerows import row_diff, service_row  # noqa: E402
from monitoring.live.worker_table import write_rows  # noqa: E402
from monitoring.models import (  # noqa: E402
    ConnectionSample,
    RealServerHealth,
    Revision,
    WorkerStatus,
    WorkerTableService,
    new_table_stamp,
)
from monitoring.publish.revisions import publish  # noqa: E402
from realservers.models import RealServer  # noqa: E402
from virtualservers.models import MonitoringScript, VirtualServer  # noqa: E402

REALS_PER_VIRTUAL = 10
TARGET_MS = 300.0
CONTROL_TARGET_MS = 150.0  # issue 23: CONTROL/MONITORING's server time
RUNS = 7
SIZES = (100, 1000, 10000)
RICH = 20  # the virtual servers on the first and last live pages get an hour of samples


def add_virtuals(start: int, stop: int) -> None:
    """Virtual servers start..stop-1, each with a monitoring script and 10 real servers."""
    virtuals = VirtualServer.objects.bulk_create(
        VirtualServer(
            name=f"vs{index:05d}",
            position=index,
            active=index % 3 != 0,
            address=f"198.51.100.{index % 250 + 1}",
            device="eth0:1",
            vip_nmask="255.255.255.0",
            port=1000 + index,
        )
        for index in range(start, stop)
    )
    MonitoringScript.objects.bulk_create(MonitoringScript(virtual_server=v) for v in virtuals)
    RealServer.objects.bulk_create(
        RealServer(
            virtual_server=virtual,
            name=f"rs{number}",
            position=number,
            address=f"203.0.113.{index % 250 + 1}",
            port=8000 + number,
            weight=number,
            active=True,
        )
        for index, virtual in enumerate(virtuals)
        for number in range(REALS_PER_VIRTUAL)
    )


SAMPLES_PER_SERVER = 60  # an hour of the worker's one-a-minute connection samples


def report_worker(start: int, stop: int, total: int | None = None) -> None:
    """What a running worker would have written for virtual servers start..stop-1: their table
    rows (a row a service), every real server's health (one in ten down) and connection samples: an hour of them
    for the virtual servers the measured pages show (the first and last RICH of `total`), two
    for the others (six million rows at 10,000 x 10 would take longer to write than to read)."""
    total = stop if total is None else total
    now = timezone.now()
    rows = []
    healths = []
    for virtual in VirtualServer.objects.filter(position__gte=start, position__lt=stop):
        destinations = []
        for server in virtual.real_servers.all():
            down = server.position == 3
            healths.append(
                RealServerHealth(
                    virtual_name=virtual.name, address=server.address, port=server.port,
                    state="down" if down else "up", since=now, last_check=now, latency_ms=0.4,
                    last_error="connection refused" if down else "", weight=server.weight,
                )
            )  # fmt: skip
            if not down:
                destinations.append(
                    {
                        "endpoint": f"{server.address}:{server.port}",
                        "address": server.address,
                        "port": server.port,
                        "forward": "Route",
                        "weight": server.weight,
                        "active": 3,
                        "inact": 7,
                    }  # fmt: skip
                )
        rows.append({"service": f"TCP  {virtual.address}:{virtual.port}", "scheduler": "wlc",
                     "flags": "", "virtual": virtual.name, "destinations": destinations})  # fmt: skip
    healths = RealServerHealth.objects.bulk_create(healths, batch_size=1000)
    rich = {f"vs{i:05d}" for i in [*range(RICH), *range(total - RICH, total)]}
    ConnectionSample.objects.bulk_create(
        (
            ConnectionSample(
                health=h,
                at=now - timedelta(minutes=m),
                minute=int((now - timedelta(minutes=m)).timestamp() // 60),
                active_conn=m % 7,
                inact_conn=1,
            )
            for h in healths
            for m in range(SAMPLES_PER_SERVER if h.virtual_name in rich else 2)
        ),
        batch_size=5000,
    )
    WorkerStatus.objects.update_or_create(
        pk=1, defaults={"heartbeat": now, "serial_no": 1, "kernel_ok": True}
    )
    with transaction.atomic():  # the new services only: the ones of smaller sizes are there
        write_rows(row_diff({}, {service_row(row).key: row for row in rows}))


def measure(client: Client, url: str) -> tuple[float, int]:
    """Median time (ms) over RUNS requests after a warm-up, and the query count of one."""
    assert client.get(url).status_code == 200
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return statistics.median(times), len(queries)


def report(label: str, url: str, client: Client, results: dict, target: float = TARGET_MS) -> None:
    ms, count = measure(client, url)
    results[label] = (ms, count, target)
    verdict = "MET" if ms < target else "MISSED"
    print(f"  {label:<58} {ms:8.1f} ms  {count:3d} queries  [{verdict}: goal {target:.0f} ms]")


def measure_table_changed(client: Client, results: dict, total: int) -> None:
    """CONTROL/MONITORING right after the worker wrote its table: one service changed (a counter
    moved: the worker writes that service's row), and the whole table rewritten (a worker's
    start, or the other director's worker wrote since). Each load after its own write."""
    first = WorkerTableService.objects.order_by("key").first()
    every = list(WorkerTableService.objects.values_list("key", "row"))
    for label, whole in (
        ("CONTROL/MONITORING, the worker's table just changed (/)", False),
        ("CONTROL/MONITORING, the worker's table just rewritten whole (/)", True),
    ):
        times, cpu, writes = [], [], []
        for run in range(RUNS):
            row = dict(first.row, destinations=[dict(d) for d in first.row["destinations"]])
            row["destinations"][0]["active"] = run + 100
            changed = {first.key: row}
            started = time.perf_counter()
            with transaction.atomic():
                if whole:
                    write_rows(row_diff(None, {**dict(every), **changed}))
                else:
                    write_rows(row_diff({first.key: first.row}, changed))
                WorkerStatus.objects.filter(pk=1).update(table_stamp=new_table_stamp())
            writes.append((time.perf_counter() - started) * 1000)
            first.row = row
            started, used = time.perf_counter(), time.process_time()
            assert client.get("/").status_code == 200
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - used) * 1000)  # SQLite's work is in-process too
        ms = statistics.median(times)
        results[label] = (ms, 0, CONTROL_TARGET_MS)
        verdict = "MET" if ms < CONTROL_TARGET_MS else "MISSED"
        print(
            f"  {label:<58} {ms:8.1f} ms  [{verdict}: goal {CONTROL_TARGET_MS:.0f} ms]"
            f"  (CPU {statistics.median(cpu):.1f} ms; the table's write: "
            f"{statistics.median(writes):.1f} ms)"
        )


def unpublish() -> None:
    """As before the first Apply: no revision, no file; the whole draft is pending."""
    Revision.objects.all().delete()
    Path(os.environ["LVSADMIN_LVS_CF"]).unlink(missing_ok=True)


def measure_size(total: int, user, client: Client, results: dict) -> None:
    already = VirtualServer.objects.count()
    started = time.perf_counter()
    add_virtuals(already, total)
    unpublish()
    print(
        f"{total} virtual servers x {REALS_PER_VIRTUAL} real servers"
        f" (draft written in {time.perf_counter() - started:.1f} s)"
    )
    report_worker(already, total, total)
    report(
        "CONTROL/MONITORING, the whole file pending (/)", "/", client, results, CONTROL_TARGET_MS
    )
    started = time.perf_counter()
    publish(user, f"{total} virtual servers")
    print(f"  (Apply took {(time.perf_counter() - started) * 1000:.0f} ms)")
    report("VIRTUAL SERVERS list (/virtual/)", "/virtual/", client, results)
    report("VIRTUAL SERVERS list, filtered (?q=vs0009)", "/virtual/?q=vs0009", client, results)
    report(
        "VIRTUAL SERVERS list, by real server (?q=203.0.113.7)",
        "/virtual/?q=203.0.113.7",
        client,
        results,
    )
    report("CONTROL/MONITORING, nothing pending (/)", "/", client, results, CONTROL_TARGET_MS)
    VirtualServer.objects.filter(name="vs00007").update(port=8081)
    report("CONTROL/MONITORING, one change pending (/)", "/", client, results, CONTROL_TARGET_MS)
    VirtualServer.objects.filter(name="vs00007").update(port=1007)
    RealServer.objects.update(active=False)  # the admin's bulk "Deactivate selected"
    report(
        f"CONTROL/MONITORING, {total * REALS_PER_VIRTUAL} deactivated (/)",
        "/",
        client,
        results,
        CONTROL_TARGET_MS,
    )
    RealServer.objects.update(active=True)
    report(
        "CONTROL/MONITORING, search and only down (?q=vs0&show=)",
        "/?q=vs0&show=problems",
        client,
        results,
        CONTROL_TARGET_MS,
    )
    measure_table_changed(client, results, total)
    report("CONTROL/MONITORING live panel (/live/)", "/live/", client, results)
    report("CONTROL/MONITORING live panel, last page", "/live/?page=9999", client, results)


def main(sizes: tuple[int, ...]) -> int:
    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", password=None)
    client = Client()
    client.force_login(user)
    results: dict[int, dict] = {}
    for total in sizes:
        results[total] = {}
        measure_size(total, user, client, results[total])
    smallest, largest = sizes[0], sizes[-1]
    grows = [
        f"{label}: {results[smallest][label][1]} at {smallest}, {results[largest][label][1]} at"
        f" {largest}"
        for label in results[largest]
        if label in results[smallest]
        and results[smallest][label][1] != results[largest][label][1]
        and "the worker's table just" not in label
    ]
    for line in grows:
        print("query count grows:", line)
    missed = [
        f"{label} at {total} ({ms:.0f} ms)"
        for total, rows in results.items()
        for label, (ms, _count, target) in rows.items()
        if ms >= target
    ]
    figures = sum(len(rows) for rows in results.values())
    verdict = f"MISSED {len(missed)} of {figures} goals (the lines above)" if missed else "MET"
    print("RESULT:", "query count grows; " + verdict if grows else verdict)
    return 0


if __name__ == "__main__":
    try:
        status = main(tuple(int(size) for size in sys.argv[1:]) or SIZES)
    finally:
        connection.close()
        shutil.rmtree(STATE, ignore_errors=True)
    sys.exit(status)
