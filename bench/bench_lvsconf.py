"""lvs.cf at scale: render, parse and import 1,000 virtual servers of 10 real servers each.

    .venv/bin/python bench/bench_lvsconf.py

    .venv/bin/python bench/bench_lvsconf.py --virtuals 10000

Targets at 1,000 x 10: render and parse under 200 ms each, import (replace_draft) under 1 s.
Also prints what the parsed configuration holds (tracemalloc), which the worker keeps for as long
as it enforces it (issue 23: the worker's memory against HAProxy's).
Runs on a throw-away SQLite database. Exits 0 when it ran; a figure that misses its target is
printed with MISSED.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STATE = tempfile.mkdtemp(prefix="lvsadmin-bench-")
os.environ["LVSADMIN_STATE_DIR"] = STATE
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lvsadmin.settings")
os.environ.setdefault("LVSADMIN_LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from monitoring.publish.draft import draft_config, replace_draft  # noqa: E402
from virtualservers.lvsconf.model import LvsConfig, RealServer, VirtualServer  # noqa: E402
from virtualservers.lvsconf.parse import parse  # noqa: E402
from virtualservers.lvsconf.render import render  # noqa: E402

VIRTUALS, REALS = 1000, 10
TARGET_MS = 200.0
IMPORT_TARGET_MS = 1000.0
if "--virtuals" in sys.argv:
    VIRTUALS = int(sys.argv[sys.argv.index("--virtuals") + 1])


def big_config() -> LvsConfig:
    virtuals = []
    for i in range(VIRTUALS):
        servers = [
            RealServer(f"rs{j}", f"203.0.113.{j + 1}", True, 8000 + i % 50, 1 + j)
            for j in range(REALS)
        ]
        virtuals.append(
            VirtualServer(
                name=f"vs{i}", active=True, address=f"198.51.100.{i % 250 + 1}", device="eth0:1",
                port=1000 + i, send="GET / HTTP/1.0\\r\\n\\r\\n", expect="HTTP", use_regex=False,
                load_monitor="none", scheduler="wlc", protocol="tcp", timeout=6, reentry=15,
                quiesce_server=False, servers=servers,
            )
        )  # fmt: skip
    return LvsConfig(
        serial_no=1, primary="192.0.2.1", service="lvs", network="direct", virtuals=virtuals
    )


def best_ms(func, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append((time.perf_counter() - start) * 1000)
    return min(times)


def held_mb(text: str) -> float:
    """MB that parse(text)'s result holds, traced: allocated by the parse and still alive after."""
    parse(text)  # module-level caches (the parser's tables, ipaddress's) warmed before tracing
    gc.collect()
    tracemalloc.start()
    config = parse(text)[0]
    gc.collect()
    held = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del config
    return held / 1e6


def main() -> int:
    call_command("migrate", verbosity=0)
    config = big_config()
    text = render(config)
    render_ms = best_ms(lambda: render(config))
    parse_ms = best_ms(lambda: parse(text))
    import_ms = best_ms(lambda: replace_draft(config), runs=3)
    with CaptureQueriesContext(connection) as queries:
        start = time.perf_counter()
        draft_config()
        draft_ms = (time.perf_counter() - start) * 1000
    lines = text.count("\n")
    print(
        f"lvs.cf with {VIRTUALS} virtual servers x {REALS} real servers: {lines} lines, {len(text) // 1024} KiB"
    )
    print(f"render {VIRTUALS}x{REALS}: {render_ms:.1f} ms{verdict(render_ms, TARGET_MS)}")
    print(f"parse  {VIRTUALS}x{REALS}: {parse_ms:.1f} ms{verdict(parse_ms, TARGET_MS)}")
    print(
        f"import {VIRTUALS}x{REALS} (replace_draft, one transaction): {import_ms:.1f} ms"
        f"{verdict(import_ms, IMPORT_TARGET_MS)}"
    )
    print(f"draft_config {VIRTUALS}x{REALS}: {draft_ms:.1f} ms, {len(queries)} SQL queries")
    print(f"parse(render(x)) == x: {parse(text)[0] == config}")
    print(f"parsed {VIRTUALS}x{REALS} holds {held_mb(text):.2f} MB (tracemalloc)")
    shutil.rmtree(STATE, ignore_errors=True)
    return 0


def verdict(ms: float, target: float) -> str:
    # The targets are for 1,000 virtual servers; other sizes only print their figures.
    if VIRTUALS != 1000:
        return ""
    return f" (target < {target:.0f} ms{'' if ms < target else ': MISSED'})"


if __name__ == "__main__":
    sys.exit(main())
