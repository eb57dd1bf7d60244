"""Time of one Prometheus scrape (GET /metrics, bearer token) at 1,000 virtual servers x 10 real
servers: the live table, 10,000 health rows, the worker's metrics and names files.

    .venv/bin/python bench/bench_metrics.py

Target: under 200 ms (median of several scrapes, server side through Django's test client).
Builds its data with bench_pages.py's helpers on a throw-away SQLite database in a temporary
LVSADMIN_STATE_DIR; touches nothing else.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ["LVSADMIN_METRICS_TOKEN"] = "bench-token-0123456789"
# Sets up Django on its own temporary state directory; its helpers build the 1,000 x 10 data.
import bench_pages  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from monitoring.models import Revision  # noqa: E402
from monitoring.publish import publish  # noqa: E402
from monitoring.worker_metrics import WorkerMetrics  # noqa: E402
from virtualservers.lvsconf.parse import parse  # noqa: E402

VIRTUALS = 1000
TARGET_MS = 200.0
RUNS = 9


def worker_files() -> None:
    """The two files a running worker writes beside the apply state."""
    metrics = WorkerMetrics()
    for index in range(10_000):
        metrics.observe_check(0.0004 * (index % 50), None if index % 100 else index % 200 == 0)
    metrics.observe_apply(2.1, ok=True)
    config, _warnings = parse(Revision.objects.order_by("-serial_no").first().text)
    metrics.publish(Path(settings.LVSADMIN_APPLY_STATE), config, kernel=False)


def main() -> int:
    call_command("migrate", verbosity=0)
    user = User.objects.create_superuser("bench", password=None)
    bench_pages.add_virtuals(0, VIRTUALS)
    publish(user, "bench")
    bench_pages.report_worker(0, VIRTUALS)
    worker_files()
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {os.environ['LVSADMIN_METRICS_TOKEN']}"}
    first = client.get("/metrics", **auth)
    assert first.status_code == 200, first.status_code
    families = {f.name: len(f.samples) for f in text_string_to_metric_families(first.text)}
    times, cpu = [], []
    for _ in range(RUNS):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get("/metrics", **auth)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200
    median = statistics.median(times)
    samples = sum(families.values())
    print(
        f"{VIRTUALS} virtual servers x {bench_pages.REALS_PER_VIRTUAL} real servers: "
        f"{len(families)} metric families, {samples} samples, {len(first.content)} bytes"
    )
    verdict = "ok" if median < TARGET_MS else "SLOW"
    print(
        f"  /metrics scrape: median {median:.1f} ms of {RUNS} (min {min(times):.1f}, "
        f"max {max(times):.1f})  [{verdict}, goal < {TARGET_MS:.0f} ms]"
    )
    # On a shared machine the wall time includes waiting for a core; the CPU time does not.
    print(f"  its CPU time: median {statistics.median(cpu):.1f} ms (load {os.getloadavg()[0]:.1f})")
    print("RESULT:", "PASS" if median < TARGET_MS else "FAIL")
    return 0 if median < TARGET_MS else 1


if __name__ == "__main__":
    try:
        status = main()
    finally:
        connection.close()
        shutil.rmtree(bench_pages.STATE, ignore_errors=True)
    sys.exit(status)
