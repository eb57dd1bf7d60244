"""The cost of the load monitor's reads at 1,000 real servers, against the plain checks' cost:

- an agent read (HAProxy's agent check: connect, one line, close) against a plain TCP check
  (connect, close) to the same loopback listener;
- the built-in MySQL check with `load_monitor = mysql` (the same login, plus SHOW GLOBAL STATUS
  and SHOW REPLICA/SLAVE STATUS on its connection) against the MySQL check alone, on a MariaDB of
  the benchmark's own on 127.0.0.1.

    .venv/bin/python bench/bench_load_reads.py

Everything listens on 127.0.0.1 only: the agent stub and the TCP listener in a child process (so
that their CPU is not counted as the worker's), MariaDB in its own. Each figure is the worker
process's CPU time (user + system, its threads included) and the wall time for 1,000 reads run
the way the worker runs them (asyncio, MySQL checks on threads), the median of ROUNDS rounds.
The goal: a load read costs at most twice its plain check (the agent's line and the MySQL
statements are small next to a connect and a login). Exit status 1 when a ratio misses it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitoring.checks.probes import CheckSpec, probe  # noqa: E402
from monitoring.loadweights.agent import ask_agent  # noqa: E402
from scripts.testbed.mariadb import (  # noqa: E402
    MONITOR_PASSWORD,
    MONITOR_USER,
    MariaDBServer,
    install_template,
)

SERVERS = 1000
ROUNDS = int(os.environ.get("LVSADMIN_BENCH_ROUNDS", "3"))
CONCURRENCY = 200
GOAL_RATIO = 2.0
# An agent that answers "75%" and a plain listener, both on loopback, in a child process.
STUB = """
import asyncio, sys
async def agent(reader, writer):
    writer.write(b"75%\\n")
    await writer.drain()
    writer.close()
async def plain(reader, writer):
    await reader.read()
    writer.close()
async def main():
    a = await asyncio.start_server(agent, "127.0.0.1", 0, backlog=1024)
    p = await asyncio.start_server(plain, "127.0.0.1", 0, backlog=1024)
    print(a.sockets[0].getsockname()[1], p.sockets[0].getsockname()[1], flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


async def _many(make, count: int = SERVERS) -> None:
    limit = asyncio.Semaphore(CONCURRENCY)

    async def one():
        async with limit:
            return await make()

    results = await asyncio.gather(*(one() for _ in range(count)))
    return results


def measure(make, check) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of 1,000 reads, median of ROUNDS; `check` validates one."""
    cpu, wall = [], []
    for _ in range(ROUNDS):
        c0, w0 = time.process_time(), time.perf_counter()
        results = asyncio.run(_many(make))
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        bad = [r for r in results if not check(r)]
        if bad:
            raise SystemExit(f"a read failed: {bad[0]}")
    return statistics.median(cpu), statistics.median(wall)


def report(name: str, figures: tuple[float, float]) -> None:
    cpu, wall = figures
    print(
        f"{name:<34} CPU {cpu * 1000:8.1f} ms   wall {wall * 1000:8.1f} ms  per {SERVERS}",
        flush=True,
    )


def main() -> int:
    stub = subprocess.Popen([sys.executable, "-c", STUB], stdout=subprocess.PIPE, text=True)
    base = Path(tempfile.mkdtemp(prefix="lvsadmin-bench-load-"))
    server = MariaDBServer("127.0.0.1", 0, base / "db", install_template(base))
    try:
        agent_port, plain_port = (int(p) for p in stub.stdout.readline().split())
        tcp = CheckSpec(kind="tcp", timeout=10)
        plain = measure(lambda: probe("127.0.0.1", plain_port, tcp), lambda r: r.ok)
        report("plain TCP check", plain)
        agent = measure(lambda: ask_agent("127.0.0.1", agent_port, 10), lambda r: r.percent == 75)
        report("agent read", agent)
        with_socket = _free_port()
        server.port = with_socket
        server.start()
        mysql = CheckSpec(
            kind="mysql", timeout=10, mysql_user=MONITOR_USER, mysql_password=MONITOR_PASSWORD
        )
        loaded = dataclasses.replace(mysql, mysql_load=True)
        check_only = measure(lambda: probe("127.0.0.1", with_socket, mysql), lambda r: r.ok)
        report("MySQL check", check_only)
        with_load = measure(
            lambda: probe("127.0.0.1", with_socket, loaded),
            lambda r: r.ok and r.load is not None,
        )
    finally:
        stub.kill()
        stub.wait()
        server.stop()
    report("MySQL check + load figures", with_load)
    ratios = {
        "agent / TCP": agent[0] / plain[0],
        "MySQL + load / MySQL": with_load[0] / check_only[0],
    }
    for name, ratio in ratios.items():
        print(f"CPU ratio {name}: {ratio:.2f} (goal <= {GOAL_RATIO:g})")
    return 0 if all(r <= GOAL_RATIO for r in ratios.values()) else 1


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


if __name__ == "__main__":
    sys.exit(main())
