"""CONTROL/MONITORING's load time in a browser (Debian's Chromium through Playwright, the load
event), at 100, 1,000 and 10,000 virtual servers of 10 real servers each, whatever is pending.

    .venv/bin/python bench/bench_browser_control.py [SIZES...]   (default: 100 1000 10000)

The data of bench_pages.py (a throw-away SQLite database in a temporary LVSADMIN_STATE_DIR),
served on 127.0.0.1 by Django's live-server thread with the collected static files, a logged-in
session. For each state (the whole file pending before the first Apply, nothing pending after it,
every real server deactivated by a bulk update) the page is loaded once to warm up, then RUNS
times; the median of performance's navigation entry, loadEventEnd, is printed with the page's
size and MET or MISSED against the goal (issue 21: under 300 ms). Exits 0 unless it crashed.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread
os.environ.setdefault("LVSADMIN_ALLOWED_HOSTS", "testserver,127.0.0.1")
import bench_pages as pages  # noqa: E402  (sets Django up on a throw-away state directory)
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.testcases import LiveServerThread  # noqa: E402

from monitoring.publish.revisions import publish  # noqa: E402
from realservers.models import RealServer  # noqa: E402
from virtualservers.models import VirtualServer  # noqa: E402

TARGET_MS = 300.0
RUNS = 5
SIZES = (100, 1000, 10000)
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOAD = "performance.getEntriesByType('navigation')[0].loadEventEnd"


def load_ms(page, url: str) -> tuple[float, int]:
    """Median load-event time over RUNS loads after a warm-up, and the HTML's size."""
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    size = len(response.body())
    times = []
    for _ in range(RUNS):
        page.goto(url, wait_until="load")
        times.append(float(page.evaluate(LOAD)))
    return statistics.median(times), size


def line(label: str, ms: float, size: int, results: list) -> None:
    verdict = "MET" if ms < TARGET_MS else "MISSED"
    results.append((label, ms))
    print(
        f"  {label:<52} {ms:8.1f} ms  {size / 1000:7.0f} kB  [{verdict}: goal {TARGET_MS:.0f} ms]"
    )


def main(sizes: tuple[int, ...]) -> int:
    from playwright.sync_api import sync_playwright

    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    user = User.objects.create_superuser("bench", password=None)
    client = Client()
    client.force_login(user)
    server = LiveServerThread("127.0.0.1", lambda app: app)
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    base = f"http://127.0.0.1:{server.port}"
    results: list[tuple[str, float]] = []
    try:
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=FLAGS,
                viewport={"width": 1280, "height": 900},
            )  # fmt: skip
            context.add_cookies(
                [{"name": "sessionid", "value": client.cookies["sessionid"].value,
                  "domain": "127.0.0.1", "path": "/"}]
            )  # fmt: skip
            page = context.new_page()
            for total in sizes:
                already = VirtualServer.objects.count()
                pages.add_virtuals(already, total)
                pages.unpublish()
                pages.report_worker(already, total, total)
                print(f"{total} virtual servers x {pages.REALS_PER_VIRTUAL} real servers")
                line(f"CONTROL/MONITORING at {total}, whole file pending", *load_ms(page, base + "/"), results)  # fmt: skip
                publish(user, f"{total} virtual servers")
                line(f"CONTROL/MONITORING at {total}, nothing pending", *load_ms(page, base + "/"), results)  # fmt: skip
                RealServer.objects.update(active=False)
                line(f"CONTROL/MONITORING at {total}, all deactivated", *load_ms(page, base + "/"), results)  # fmt: skip
                RealServer.objects.update(active=True)
            context.close()
    finally:
        server.terminate()
    missed = [f"{label} ({ms:.0f} ms)" for label, ms in results if ms >= TARGET_MS]
    print("RESULT:", f"MISSED: {'; '.join(missed)}" if missed else "MET")
    return 0


if __name__ == "__main__":
    started = time.perf_counter()
    try:
        status = main(tuple(int(size) for size in sys.argv[1:]) or SIZES)
    finally:
        connection.close()
        shutil.rmtree(pages.STATE, ignore_errors=True)
    print(f"(took {time.perf_counter() - started:.0f} s)")
    sys.exit(status)
