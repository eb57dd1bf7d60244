"""Server-side time and SQL query count of the two list pages, at 100 and 1,000 virtual servers.

    .venv/bin/python bench/bench_pages.py

Targets: VIRTUAL SERVERS and CONTROL/MONITORING each under 300 ms with 1,000 virtual servers of
10 real servers each, and a query count that does not grow with the number of servers. Runs on
a throw-away SQLite database in a temporary LVSADMIN_STATE_DIR; touches nothing else.
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
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from monitoring.models import (  # noqa: E402
    ConnectionSample,
    RealServerHealth,
    WorkerStatus,
)
from monitoring.publish.revisions import publish  # noqa: E402
from realservers.models import RealServer  # noqa: E402
from virtualservers.models import MonitoringScript, VirtualServer  # noqa: E402

REALS_PER_VIRTUAL = 10
TARGET_MS = 300.0
RUNS = 7


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


def report_worker(start: int, stop: int) -> None:
    """What a running worker would have written for virtual servers start..stop-1: the table as
    rows, every real server's health (one in ten down) and an hour of connection samples."""
    now = timezone.now()
    rows = WorkerStatus.objects.filter(pk=1).values_list("table", flat=True).first() or []
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
            for m in range(SAMPLES_PER_SERVER)
        ),
        batch_size=5000,
    )
    WorkerStatus.objects.update_or_create(
        pk=1, defaults={"heartbeat": now, "serial_no": 1, "kernel_ok": True, "table": rows}
    )


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


def report(label: str, url: str, client: Client, results: dict) -> None:
    ms, count = measure(client, url)
    results[label] = (ms, count)
    verdict = "ok" if ms < TARGET_MS else "SLOW"
    print(f"  {label:<44} {ms:8.1f} ms  {count:3d} queries  [{verdict}]")


def main() -> int:
    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", password=None)
    client = Client()
    client.force_login(user)
    results: dict[int, dict] = {}
    for total in (100, 1000):
        already = VirtualServer.objects.count()
        add_virtuals(already, total)
        started = time.perf_counter()
        publish(user, f"{total} virtual servers")
        publish_ms = (time.perf_counter() - started) * 1000
        print(
            f"{total} virtual servers x {REALS_PER_VIRTUAL} real servers "
            f"(Apply took {publish_ms:.0f} ms)"
        )
        started = time.perf_counter()
        report_worker(already, total)
        print(
            f"  (worker's report: {RealServerHealth.objects.count()} health rows,"
            f" {ConnectionSample.objects.count()} connection samples,"
            f" written in {time.perf_counter() - started:.1f} s)"
        )
        results[total] = {}
        report("VIRTUAL SERVERS list (/virtual/)", "/virtual/", client, results[total])
        report(
            "VIRTUAL SERVERS list, filtered (?q=vs0009)",
            "/virtual/?q=vs0009",
            client,
            results[total],
        )
        report("CONTROL/MONITORING, nothing pending (/)", "/", client, results[total])
        VirtualServer.objects.filter(name="vs00007").update(port=8081)
        report("CONTROL/MONITORING, one change pending (/)", "/", client, results[total])
        VirtualServer.objects.filter(name="vs00007").update(port=1007)
        report("CONTROL/MONITORING live panel (/live/)", "/live/", client, results[total])
        report(
            "CONTROL/MONITORING live panel, last page", "/live/?page=999", client, results[total]
        )

    failed = False
    for label in results[1000]:
        small, large = results[100][label][1], results[1000][label][1]
        if small != large:
            print(f"query count grows: {label}: {small} at 100, {large} at 1000")
            failed = True
        if results[1000][label][0] >= TARGET_MS:
            failed = True
    print(
        "queries at 100 vs 1000:",
        ", ".join(
            f"{label.split(' (')[0]}: {results[100][label][1]}/{results[1000][label][1]}"
            for label in results[1000]
        ),
    )
    print("RESULT:", "FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        status = main()
    finally:
        connection.close()
        shutil.rmtree(STATE, ignore_errors=True)
    sys.exit(status)
