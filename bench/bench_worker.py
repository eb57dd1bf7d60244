"""One worker checking 10,000 real servers (TCP listeners on loopback) every 2 s, beside HAProxy
checking the same listeners the same way in the same run.

    .venv/bin/python bench/bench_worker.py

Prints the share of one core (user, kernel, total) and the memory of HAProxy (the anchor: plain
connect checks every 2 s, Debian's haproxy) and of the worker, side by side with their ratios;
how late checks start and how fast failures are seen; and how many connects N virtual servers
over the same real servers cost. Goals: the worker at most HAProxy's CPU and memory, every
failure seen within timeout + 1 s, one connect per real server per interval however many virtual
servers share it. Each goal is printed MET or MISSED; the script exits 0 unless it crashed.
The listeners run in a separate process so their work is not charged to either checker. The
worker runs as in production (health state, SQLite writes, heartbeat), with the in-memory IPVS
driver since this host has no IPVS. A second window measures the worker under traffic: every
destination's connection counters move each second (a thread of the benchmark's, left out of
the figures), so the status thread rewrites every service's row of the shown table each round.
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
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from collections import Counter
from dataclasses import replace
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
# The listeners closed: spread over the first 9,000 (every 180th), so over the whole interval of
# a schedule laid out in lvs.cf's order (the first 50 are checked within 10 ms of each other),
# and never among the last 1,000 that the sharing scenario uses.
FAILED_EVERY = 180
SHARED_VIRTUALS, SHARED_REALS = 5, 1000  # the sharing scenario: 5 virtual servers x 1,000


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 65536), hard))


def listeners(ready, stop_some, done) -> None:
    """Accept and close on 10,000 sockets; close FAILED of them (every FAILED_EVERY-th) on
    request."""
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
            for s in socks[: FAILED * FAILED_EVERY : FAILED_EVERY]:
                selector.unregister(s)
                s.close()
            closed = True
        for key, _ in selector.select(0.1):
            try:
                conn, _ = key.fileobj.accept()
                conn.close()
            except OSError:
                pass


def listening(ready, child, wait: float = 60.0) -> bool:
    """Whether the listeners' process bound every listener (False: it died, or never said so)."""
    deadline = time.monotonic() + wait
    while not ready.wait(0.2):
        if not child.is_alive() or time.monotonic() > deadline:
            return False
    return True


def config_text(virtuals: int = VIRTUALS, reals: int = REALS, shared: bool = False) -> str:
    """`virtuals` x `reals` real servers, each its own listener; shared: every virtual server
    over the same `reals` listeners (as several VIPs over one pool)."""
    lines = ["serial_no = 1", "network = direct"]
    servers = targets()
    for i in range(virtuals):
        lines += [f"virtual vs{i} {{", "     active = 1", f"     address = 198.51.100.{i % 250 + 1} eth0:1",
                  f"     port = {1000 + i}", '     send = ""', '     expect = ""', "     scheduler = wlc",
                  "     protocol = tcp", f"     timeout = {TIMEOUT}", f"     reentry = {TIMEOUT * 2}"]  # fmt: skip
        for j in range(reals):
            address, port = servers[-(j + 1) if shared else i * reals + j]  # never the FAILED
            lines += [f"     server rs{j} {{", f"         address = {address}", "         active = 1",
                      f"         port = {port}", "     }"]  # fmt: skip
        lines.append("}")
    return "\n".join(lines) + "\n"


def shared_connects(worker_class, revision_class) -> float:
    """Connects per real server per interval when SHARED_VIRTUALS virtual servers hold the same
    SHARED_REALS real servers (goal 1), counted by the scanner over three whole intervals after
    the first one (which spreads the first checks)."""
    revision_class.objects.create(
        serial_no=2, text=config_text(SHARED_VIRTUALS, SHARED_REALS, shared=True)
    )
    worker = worker_class("memory", arp_count=0)
    counted: list[int] = []

    async def run() -> None:
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(TIMEOUT * 1.5)
        start = worker.scanner.checks
        await asyncio.sleep(TIMEOUT * 3)
        counted.append(worker.scanner.checks - start)
        worker.stop()
        await task

    asyncio.run(run())
    return counted[0] / SHARED_REALS / 3


def haproxy_config() -> str:
    """HAProxy checking every listener with a plain connect check (no `option`: layer 4) every
    TIMEOUT seconds, as the worker does; no frontend: it only checks."""
    lines = [
        "global",
        "    maxconn 4000",
        "    ulimit-n 16000",  # under the host's hard limit; 10,000 checks hold one socket each
        "defaults",
        "    mode tcp",
        f"    timeout connect {TIMEOUT}s",
        f"    timeout check {TIMEOUT}s",
        "    timeout client 5s",
        "    timeout server 5s",
        "backend real_servers",
        f"    default-server check inter {TIMEOUT}s fall 1 rise 2",
    ]
    lines += [f"    server r{i} {a}:{p}" for i, (a, p) in enumerate(targets())]
    # HAProxy refuses to start without a listener: one on loopback that nothing connects to.
    lines += [
        "frontend idle",
        f"    bind 127.0.0.1:{idle_port()}",
        "    default_backend real_servers",
    ]
    return "\n".join(lines) + "\n"


def idle_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def targets() -> list[tuple[str, int]]:
    return [(a, p) for a in ADDRESSES for p in PORTS]


def process_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process, all its threads."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / tick, int(fields[12]) / tick


def process_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_haproxy() -> dict | None:
    """HAProxy's share of a core (user, kernel) over WINDOW after WARMUP, and its RSS; None
    when haproxy is not installed (scripts/install-system-deps.sh test installs it)."""
    binary = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None
    )
    if binary is None:
        return None
    config = Path(STATE) / "haproxy.cfg"
    config.write_text(haproxy_config())
    # -db: in the foreground, one process; its log of servers going up and down is not wanted.
    process = subprocess.Popen(
        [binary, "-f", str(config), "-db", "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(WARMUP)
        if process.poll() is not None:
            print(f"haproxy exited with {process.returncode}: {binary} -f {config} -db shows why")
            return None
        user0, system0 = process_times(process.pid)
        wall0 = time.monotonic()
        time.sleep(WINDOW)
        user1, system1 = process_times(process.pid)
        wall = time.monotonic() - wall0
        rss = process_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(10)
    return {"user": (user1 - user0) / wall, "system": (system1 - system0) / wall, "rss": rss}


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
    if tid == threading.main_thread().native_id:
        return "event loop (the other checks scheduled, reported results recorded)"
    if worker.scanner is not None and tid == worker.scanner.thread.native_id:
        return "connect scanner (schedule, sockets, quiet passes)"
    named = {thread.native_id: thread.name for thread in threading.enumerate()}
    if named.get(tid, "").startswith("lvsadmin-status"):
        return "status thread (heartbeat, the shown table, health rows)"
    return "control and other threads (configuration, apply, drift repair)"


async def cpu_window(worker, seconds: float, exclude: int | None = None) -> tuple:
    """(user, kernel, {thread group: (user, kernel)}) as shares of one core over `seconds`;
    `exclude`: a thread of the benchmark's own, left out."""
    threads0 = thread_times()
    wall0 = time.monotonic()
    await asyncio.sleep(seconds)
    wall = time.monotonic() - wall0
    threads1 = thread_times()
    per_thread: dict[str, tuple[float, float]] = {}
    for tid, (user, system) in threads1.items():
        if tid == exclude:
            continue
        user0, system0 = threads0.get(tid, (0, 0))
        name = thread_name(tid, worker)
        u, s = per_thread.get(name, (0.0, 0.0))
        per_thread[name] = (u + (user - user0) / wall, s + (system - system0) / wall)
    user = sum(u for u, _ in per_thread.values())
    system = sum(s for _, s in per_thread.values())
    return user, system, per_thread


def memory_driver():
    from monitoring.ipvs import drivers

    return drivers.get_driver("memory")


def move_counters(driver, stop: threading.Event) -> None:
    """Traffic on every real server: each second every destination's connection counters move,
    as the kernel's do under load, so every service of the worker's table changes every round.
    This thread is the benchmark's: its CPU is left out of the worker's figures."""
    moves = 0
    while not stop.wait(1.0):
        moves += 1
        for entry in list(driver.table.values()):
            destinations = entry.destinations
            for key, destination in list(destinations.items()):
                destinations[key] = replace(destination, active_conn=moves, inact_conn=2 * moves)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def prepare_database() -> None:
    """Migrate and publish the revision, in a child process: a production worker does neither,
    and the migrations' modules and the revision's text kept 11 MB in this process's RSS,
    which is the worker's figure."""
    import django

    django.setup()
    from django.core.management import call_command

    from monitoring.models import Revision

    call_command("migrate", verbosity=0)
    Revision.objects.create(serial_no=1, text=config_text())


def main() -> int:
    raise_nofile()
    ctx = multiprocessing.get_context("fork")
    preparing = ctx.Process(target=prepare_database)  # before this process loads Django
    preparing.start()
    preparing.join()
    if preparing.exitcode != 0:
        print(f"preparing the database failed (exit code {preparing.exitcode})")
        return 1
    import django

    django.setup()
    from monitoring.models import Revision
    from monitoring.worker.loop import Worker

    ready, stop_some, done = ctx.Event(), ctx.Event(), ctx.Event()
    child = ctx.Process(target=listeners, args=(ready, stop_some, done), daemon=True)
    child.start()
    if not listening(ready, child):
        # Without its listeners every check is refused: the figures would be a bench of
        # failures, printed as if they were the goal's.
        print(
            f"the listeners did not start (exit code {child.exitcode}): another process holds"
            f" {ADDRESSES[0]}-{ADDRESSES[-1]} ports {PORTS[0]}-{PORTS[-1]}, maybe another run"
            " of this benchmark; no figures"
        )
        return 1
    haproxy = measure_haproxy()  # first, while every listener answers

    lags = array("d")  # 100,000 floats: a list of them was 3 MB of the worker's RSS
    worker = Worker("memory", arp_count=0)

    def measure_lags() -> None:
        """How late each check starts (the scanner's wheel appends each lag): measured after
        the CPU window, since recording them costs CPU of its own."""
        worker.scanner.flights.lags = lags

    async def scenario() -> dict:
        task = asyncio.create_task(worker.run())
        await asyncio.sleep(WARMUP)
        checks0 = worker.scanner.checks
        process_user, process_system, per_thread = await cpu_window(worker, WINDOW)
        memory = rss_mb()  # as HAProxy's: after a window of checks, no traffic
        checks = worker.scanner.checks - checks0
        measure_lags()
        await asyncio.sleep(TIMEOUT * 2)
        lag = sorted(lags)
        moving = threading.Event()
        mover = threading.Thread(target=move_counters, args=(memory_driver(), moving), daemon=True)
        mover.start()
        await asyncio.sleep(TIMEOUT)  # the first moves reach the table
        traffic = await cpu_window(worker, WINDOW, exclude=mover.native_id)
        moving.set()
        mover.join()
        stop_some.set()
        failed_at = time.monotonic()
        detected: dict = {}
        while len(detected) < FAILED and time.monotonic() - failed_at < 15:
            for ref in worker.book.down():
                detected.setdefault(ref, time.monotonic() - failed_at)
            await asyncio.sleep(0.02)
        memory_after = rss_mb()
        reasons = Counter(worker.book.servers[ref].reason for ref in worker.book.down())
        worker.stop()
        await task
        return {
            "user": process_user,
            "system": process_system,
            "checks": checks,
            "lag": lag,
            "detected": sorted(detected.values()),
            "rss": memory,
            "rss_after": memory_after,
            "threads": per_thread,
            "reasons": reasons,
            "traffic": traffic,
        }

    result = asyncio.run(scenario())
    per_interval = shared_connects(Worker, Revision)
    done.set()
    child.join(5)
    report(result, haproxy)
    print(
        f"{SHARED_VIRTUALS} virtual servers over the same {SHARED_REALS} real servers:"
        f" {per_interval:.2f} connects per real server per interval (goal 1)"
        f" {verdict(per_interval <= 1.05)}"
    )
    shutil.rmtree(STATE, ignore_errors=True)
    return 0


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def report(result: dict, haproxy: dict | None) -> None:
    servers = VIRTUALS * REALS
    lag = result["lag"]
    detected = result["detected"]
    print(
        f"{servers} real servers (TCP listeners on loopback), checked every {TIMEOUT} s,"
        f" {WINDOW:.0f} s windows, HAProxy first, then the worker, on the same listeners"
    )
    print(
        f"worker checks run: {result['checks']} ({result['checks'] / WINDOW:.0f}/s,"
        f" expected {servers / TIMEOUT:.0f}/s)"
    )
    worker_cpu = result["user"] + result["system"]
    print(f"{'':10} {'user':>7} {'kernel':>7} {'total':>7} {'RSS':>8}   (% of one core)")
    if haproxy is not None:
        haproxy_cpu = haproxy["user"] + haproxy["system"]
        print(
            f"{'HAProxy':10} {haproxy['user'] * 100:6.1f}% {haproxy['system'] * 100:6.1f}%"
            f" {haproxy_cpu * 100:6.1f}% {haproxy['rss']:5.1f} MB"
        )
    print(
        f"{'worker':10} {result['user'] * 100:6.1f}% {result['system'] * 100:6.1f}%"
        f" {worker_cpu * 100:6.1f}% {result['rss']:5.1f} MB"
    )
    if haproxy is not None:

        def ratio(a: float, b: float) -> str:
            return f"{a / b:.2f}x" if b > 0 else "-"

        print(
            f"{'worker/HAProxy':10} {ratio(result['user'], haproxy['user']):>7}"
            f" {ratio(result['system'], haproxy['system']):>7} {ratio(worker_cpu, haproxy_cpu):>7}"
            f" {ratio(result['rss'], haproxy['rss']):>8}"
        )
    print("worker's threads:")
    for name, (user, system) in sorted(result["threads"].items()):
        print(f"  {name}: user {user * 100:.1f}% + kernel {system * 100:.1f}%")
    print(
        "  (on loopback the kernel time includes the listeners' side of each TCP handshake,"
        " which a director does not pay for remote real servers; HAProxy's too)"
    )
    user, system, threads = result["traffic"]
    print(
        "under traffic (every real server's connection counters moving each second, so every"
        f" service's row changes every round): worker {(user + system) * 100:.1f}% of a core"
    )
    for name, (u, k) in sorted(threads.items()):
        print(f"  {name}: user {u * 100:.1f}% + kernel {k * 100:.1f}%")
    print(f"  worker's RSS after it and 50 failures: {result['rss_after']:.0f} MB")
    if lag:
        print(
            f"check start lag: p50 {statistics.median(lag) * 1000:.0f} ms,"
            f" p99 {lag[int(len(lag) * 0.99) - 1] * 1000:.0f} ms, max {lag[-1] * 1000:.0f} ms"
        )
    if detected:
        print(
            f"failure detection: {len(detected)}/{FAILED} seen, worst {detected[-1]:.2f} s,"
            f" median {statistics.median(detected):.2f} s"
        )
        print(f"  down at the end, by reason: {dict(result['reasons'])}")
    else:
        print("failure detection: none seen")
    if haproxy is None:
        print(
            "CPU at most HAProxy's: MISSED (haproxy not installed: scripts/install-system-deps.sh test)"
        )
        print("memory at most HAProxy's: MISSED (haproxy not installed)")
    else:
        print(
            f"CPU at most HAProxy's ({haproxy_cpu * 100:.1f}%): {worker_cpu * 100:.1f}%"
            f" {verdict(worker_cpu <= haproxy_cpu)}"
        )
        print(
            f"memory at most HAProxy's ({haproxy['rss']:.1f} MB): {result['rss']:.1f} MB"
            f" {verdict(result['rss'] <= haproxy['rss'])}"
        )
    worst = f"{detected[-1]:.2f} s" if detected else "none seen"
    print(
        f"every failure seen within timeout + 1 s = {TIMEOUT + 1} s: {len(detected)}/{FAILED},"
        f" worst {worst} {verdict(len(detected) == FAILED and detected[-1] <= TIMEOUT + 1)}"
    )


if __name__ == "__main__":
    sys.exit(main())
