"""One worker checking 10,000 real servers (TCP listeners on loopback) every 2 s.

    .venv/bin/python bench/bench_worker.py

Prints the share of one core the worker uses, its memory, how late checks start and how fast
failures are seen. Goals: < 25% of a core, < 150 MB, every failure seen within timeout + 1 s.
The listeners run in a separate process so their work is not charged to the worker. The worker
runs as in production (asyncio probes, health state, SQLite writes, heartbeat), with the
in-memory IPVS driver since this host has no IPVS.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import resource
import selectors
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STATE = tempfile.mkdtemp(prefix="lvsadmin-bench-")
os.environ["LVSADMIN_STATE_DIR"] = STATE
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lvsadmin.settings")
os.environ.setdefault("LVSADMIN_LOG_LEVEL", "WARNING")

VIRTUALS, REALS, TIMEOUT = 1000, 10, 2
ADDRESSES = [f"127.0.1.{i}" for i in range(1, 101)]  # 100 addresses x 100 ports = 10,000
PORTS = list(range(20000, 20100))
WARMUP, WINDOW = 6.0, 20.0
FAILED = 50


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def listeners(ready, stop_some, done) -> None:
    """Accept and close on 10,000 sockets; close the first FAILED on request."""
    raise_nofile()
    selector = selectors.DefaultSelector()
    socks = []
    for address in ADDRESSES:
        for port in PORTS:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, port))
            s.listen(64)
            s.setblocking(False)
            selector.register(s, selectors.EVENT_READ)
            socks.append(s)
    ready.set()
    closed = False
    while not done.is_set():
        if stop_some.is_set() and not closed:
            for s in socks[:FAILED]:
                selector.unregister(s)
                s.close()
            closed = True
        for key, _ in selector.select(0.1):
            try:
                conn, _ = key.fileobj.accept()
                conn.close()
            except OSError:
                pass


def config_text() -> str:
    lines = ["serial_no = 1", "network = direct"]
    targets = [(a, p) for a in ADDRESSES for p in PORTS]
    for i in range(VIRTUALS):
        lines += [f"virtual vs{i} {{", "     active = 1", f"     address = 198.51.100.{i % 250 + 1} eth0:1",
                  f"     port = {1000 + i}", '     send = ""', '     expect = ""', "     scheduler = wlc",
                  "     protocol = tcp", f"     timeout = {TIMEOUT}", f"     reentry = {TIMEOUT * 2}"]  # fmt: skip
        for j in range(REALS):
            address, port = targets[i * REALS + j]
            lines += [f"     server rs{j} {{", f"         address = {address}", "         active = 1",
                      f"         port = {port}", "     }"]  # fmt: skip
        lines.append("}")
    return "\n".join(lines) + "\n"


def thread_times() -> dict[int, tuple[float, float]]:
    """(user, system) CPU seconds of each of this process's threads, from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    times = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        times[int(task.name)] = (int(fields[11]) / tick, int(fields[12]) / tick)
    return times


def thread_name(tid: int, worker) -> str:
    import threading

    if tid == threading.main_thread().native_id:
        return "event loop (checks scheduled, results recorded)"
    if worker.scanner is not None and tid == worker.scanner.thread.native_id:
        return "connect scanner (sockets)"
    return "control and status threads (configuration, apply, status and health rows)"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    raise_nofile()
    import django

    django.setup()
    from django.core.management import call_command

    from monitoring.models import Revision
    from monitoring.worker.loop import Worker

    call_command("migrate", verbosity=0)
    Revision.objects.create(serial_no=1, text=config_text())

    ctx = multiprocessing.get_context("fork")
    ready, stop_some, done = ctx.Event(), ctx.Event(), ctx.Event()
    child = ctx.Process(target=listeners, args=(ready, stop_some, done), daemon=True)
    child.start()
    ready.wait(60)

    lags: list[float] = []

    worker = Worker("memory", arp_count=0)
    book_due = worker.book.due

    def measured_due(now=None):  # how late each check starts, at one list append per tick
        servers = book_due(now)
        started = time.time()
        lags.extend(started - server.next_due for server in servers)
        return servers

    worker.book.due = measured_due

    async def scenario() -> dict:
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(WARMUP)
        lags.clear()
        threads0 = thread_times()
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(WINDOW)
        wall = time.monotonic() - wall0
        cpu = (time.process_time() - cpu0) / wall
        threads1 = thread_times()
        per_thread = {}
        for tid, (user, system) in threads1.items():
            user0, system0 = threads0.get(tid, (0, 0))
            name = thread_name(tid, worker)
            u, s = per_thread.get(name, (0.0, 0.0))
            per_thread[name] = (u + (user - user0) / wall, s + (system - system0) / wall)
        checks = len(lags)
        lag = sorted(lags)
        stop_some.set()
        failed_at = time.monotonic()
        detected: dict = {}
        while len(detected) < FAILED and time.monotonic() - failed_at < 15:
            for ref in worker.book.down():
                detected.setdefault(ref, time.monotonic() - failed_at)
            await asyncio.sleep(0.02)
        memory = rss_mb()
        reasons = Counter(worker.book.servers[ref].reason for ref in worker.book.down())
        worker.stop()
        await task
        return {
            "cpu": cpu,
            "checks": checks,
            "lag": lag,
            "detected": sorted(detected.values()),
            "rss": memory,
            "threads": per_thread,
            "reasons": reasons,
        }

    result = asyncio.run(scenario())
    done.set()
    child.join(5)
    servers = VIRTUALS * REALS
    lag = result["lag"]
    detected = result["detected"]
    print(
        f"{servers} real servers (TCP listeners on loopback), checked every {TIMEOUT} s by one worker, {WINDOW:.0f} s window"
    )
    print(
        f"checks run: {result['checks']} ({result['checks'] / WINDOW:.0f}/s, expected {servers / TIMEOUT:.0f}/s)"
    )
    print(f"CPU: {result['cpu'] * 100:.1f}% of one core (goal < 25%)")
    for name, (user, system) in sorted(result["threads"].items()):
        print(f"  {name}: user {user * 100:.1f}% + kernel {system * 100:.1f}%")
    print(
        "  (on loopback the kernel time includes the listeners' side of each TCP handshake,"
        " which a director does not pay for remote real servers)"
    )
    print(f"memory: {result['rss']:.0f} MB RSS (goal < 150 MB)")
    if lag:
        print(
            f"check start lag: p50 {statistics.median(lag) * 1000:.0f} ms, p99 {lag[int(len(lag) * 0.99) - 1] * 1000:.0f} ms, max {lag[-1] * 1000:.0f} ms"
        )
    if detected:
        print(
            f"failure detection: {len(detected)}/{FAILED} seen, worst {detected[-1]:.2f} s, median {statistics.median(detected):.2f} s (goal <= timeout + 1 s = {TIMEOUT + 1} s)"
        )
        print(f"  down at the end, by reason: {dict(result['reasons'])}")
    else:
        print("failure detection: none seen")
    ok = (
        result["cpu"] < 0.25
        and result["rss"] < 150
        and len(detected) == FAILED
        and detected[-1] <= TIMEOUT + 1
    )
    print("goals met" if ok else "goals NOT all met")
    shutil.rmtree(STATE, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
