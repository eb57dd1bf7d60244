"""Directors active at once (BGP), on the lab's real kernel: a router namespace running a plain
BIRD (configured here, as a network team's router would be: `merge paths on`, L4 multipath hash),
two directors as namespaces (the VIP on lo, the same IPVS service with `mh`, sloppy_tcp), each
running BIRD from the product's generated configuration through the worker's BGP step
(monitoring.bgp.director), the lab's client behind the router and its two MariaDB real servers.

In order: the router learns the VIP from both directors (two nexthops) and new MySQL connections
go through both; one director whose real servers are all down (as its health checks see them)
withdraws the VIP and the other serves everything; an operator takes one director out of
service: held MySQL connections move to the other and go on, and it comes back; the process
running one director's step is killed (SIGKILL): its VIP is withdrawn within WITHDRAWN_WITHIN;
then a hard death of one director (its link gone, its BIRD killed): held MySQL connections go on
through the other one, on the same real server, and new connections work. No sync daemon.

The worker itself is not started here: the step is called as the worker calls it, with the
health the test says (in the test's process, or in a process of its own where it is killed);
the worker's own wiring is tested on the host."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoring.bgp import announce, bird, service
from monitoring.bgp.director import BgpControl
from monitoring.ipvs.drivers.base import KernelAddress
from monitoring.ipvs.drivers.memory import MemoryDriver
from scripts.testbed.topology import (
    BRIDGE,
    REAL_SERVERS,
    SERVER_IDS,
    VIP,
    Topology,
    add_namespace,
    mysql_connect,
    query_one,
    run,
    sysctl,
)
from virtualservers.lvsconf.model import RealServerRef
from virtualservers.lvsconf.parse import parse

ROUTER, ROUTER_LEG = "bgprt", "192.0.2.250"  # the router's leg on the directors' segment
CLIENT_NS, CLIENT_IP, CLIENT_GW = "bgpcl", "203.0.113.10", "203.0.113.1"
DIRECTORS = {"bgpd1": "192.0.2.21", "bgpd2": "192.0.2.22"}
LOCAL_AS, ROUTER_AS = 64512, 64513
LVS_CF = (
    f"network = direct\nbgp = 1\nbgp_local_as = {LOCAL_AS}\nbgp_router = {ROUTER_LEG}\n"
    f"bgp_router_as = {ROUTER_AS}\nbgp_hold_time = 3\n"
    # BFD at 300 ms x 3: with the default 100 ms, one lab run saw the route not move within
    # 60 s of the death (BIRD waits a minute before it reconnects a session BFD took down, and
    # a busy guest under QEMU's emulation misses 100 ms timers). Still under a second.
    "bgp_bfd_interval = 300\n"
    f"virtual db {{\n active = 1\n address = {VIP} lo\n port = 3306\n scheduler = mh\n"
    + "".join(
        f"     server {name} {{\n address = {address}\n active = 1\n }}\n"
        for name, address in REAL_SERVERS.items()
    )
    + "}\n"
)
# A killed worker's VIPs are withdrawn within this (README): BIRD dies with it and tells the
# router at once; the rest is the router's kernel table catching up.
WITHDRAWN_WITHIN = 5.0
ALL_DOWN = {RealServerRef("db", address, 3306) for address in REAL_SERVERS.values()}


# The router's kernel table is rescanned every 2 s (BIRD's default is 60 s): one run in three
# saw the route to the dead director stay in the router's kernel for 58 s, near that default,
# while the hold time is 3 s; a rescan puts BIRD's own table back into the kernel.
def router_conf(log: Path) -> str:
    peers = "".join(
        f"""protocol bgp {ns} {{
  local {ROUTER_LEG} as {ROUTER_AS};
  neighbor {address} as {LOCAL_AS};
  hold time 3;
  bfd on;
  ipv4 {{ import all; export none; }};
}}
"""
        for ns, address in DIRECTORS.items()
    )
    return f"""router id {ROUTER_LEG};
log "{log}" all;
debug protocols {{ states, events }};
protocol device {{ }}
protocol kernel {{ scan time 2; ipv4 {{ export all; }}; merge paths on; }}
protocol bfd {{ interface "*" {{ interval 300 ms; multiplier 3; }}; }}
{peers}"""


class BgpLab:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.router_sock = base / "router.ctl"
        self.controls: dict[str, BgpControl] = {}
        self.drivers: dict[str, MemoryDriver] = {}
        self.config = parse(LVS_CF)[0]

    def build(self) -> None:
        add_namespace(ROUTER, BRIDGE, f"{ROUTER_LEG}/24")
        run("ip", "netns", "add", CLIENT_NS)
        run("ip", "-n", ROUTER, "link", "add", "eth1", "type", "veth", "peer", "name", "eth0",
            "netns", CLIENT_NS)  # fmt: skip
        run("ip", "-n", ROUTER, "addr", "add", f"{CLIENT_GW}/24", "dev", "eth1")
        run("ip", "-n", ROUTER, "link", "set", "eth1", "up")
        run("ip", "-n", CLIENT_NS, "link", "set", "lo", "up")
        run("ip", "-n", CLIENT_NS, "addr", "add", f"{CLIENT_IP}/24", "dev", "eth0")
        run("ip", "-n", CLIENT_NS, "link", "set", "eth0", "up")
        run("ip", "-n", CLIENT_NS, "route", "add", "default", "via", CLIENT_GW)
        sysctl("net.ipv4.ip_forward", "1", ns=ROUTER)
        sysctl("net.ipv4.fib_multipath_hash_policy", "1", ns=ROUTER)  # L4: flows spread
        # DR: the real servers answer the client directly, through the router.
        for ns in REAL_SERVERS:
            run("ip", "route", "add", "203.0.113.0/24", "via", ROUTER_LEG, ns=ns)
        run("modprobe", "ip_vs_mh")
        for ns, address in DIRECTORS.items():
            add_namespace(ns, BRIDGE, f"{address}/24")
            run("ip", "addr", "add", f"{VIP}/32", "dev", "lo", ns=ns)
            # The same service, the same real servers in the same order, on both: Maglev
            # hashing then sends a flow to the same real server whichever director gets it.
            run("ipvsadm", "-A", "-t", f"{VIP}:3306", "-s", "mh", "-b", "mh-port", ns=ns)
            for rs in REAL_SERVERS.values():
                run("ipvsadm", "-a", "-t", f"{VIP}:3306", "-r", f"{rs}:3306", "-g", ns=ns)
            # What the worker's step writes in its own namespace (tested on the host).
            sysctl("net.ipv4.vs.sloppy_tcp", "1", ns=ns)
            wrapper = self.base / f"bird-{ns}"
            wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {ns} bird "$@"\n')
            wrapper.chmod(0o755)
            paths = bird.BirdPaths(
                self.base / f"{ns}.conf",
                self.base / f"{ns}.ctl",
                self.base / f"{ns}.pid",
                bird=str(wrapper),
            )
            self.controls[ns] = BgpControl(paths, service_file=self.base / f"{ns}.out")
            driver = MemoryDriver()
            driver.address_list = [
                KernelAddress(address, 24, "eth0", ""),
                KernelAddress(VIP, 32, "lo", ""),
            ]
            self.drivers[ns] = driver
        (self.base / "router.conf").write_text(router_conf(self.base / "router.log"))
        run("bird", "-c", str(self.base / "router.conf"), "-s", str(self.router_sock),
            "-P", str(self.base / "router.pid"), ns=ROUTER)  # fmt: skip

    def held(self, count: int = 16) -> tuple[list, list, int]:
        """Held connections, the real server each is on, and how many of them go through
        bgpd1 (its connection table's entries for their client ports: entries left by earlier
        connections do not count)."""
        held = [connect() for _ in range(count)]
        servers = [query_one(c, "SELECT @@server_id")[0] for c in held]
        ports = {c._sock.getsockname()[1] for c in held}
        entries = run("ipvsadm", "-L", "-n", "-c", ns="bgpd1").stdout
        through_bgpd1 = len(
            {int(p) for p in re.findall(rf"{re.escape(CLIENT_IP)}:(\d+) ", entries)} & ports
        )
        assert through_bgpd1 > 0, "no held connection went through bgpd1"
        return held, servers, through_bgpd1

    def teardown(self) -> None:
        for name in ("router", *DIRECTORS):
            try:
                os.kill(int((self.base / f"{name}.pid").read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        for ns in REAL_SERVERS:
            run("ip", "route", "del", "203.0.113.0/24", ns=ns, check=False)
        for ns in (ROUTER, CLIENT_NS, *DIRECTORS):
            run("ip", "netns", "del", ns, check=False)

    def step(self, ns: str, down: set[RealServerRef] | frozenset = frozenset()) -> None:
        control = self.controls[ns]
        control.step(self.config, self.drivers[ns], table_loaded=True, down=down)
        assert control.state.message == "", control.state.message

    def nexthops(self) -> list[str]:
        text = run("ip", "route", "show", f"{VIP}/32", ns=ROUTER).stdout
        # One path: `VIP via A dev eth0 ...`; several: a `nexthop via A ...` line each.
        return sorted(re.findall(r"\bvia (\S+)", text))

    def router_state(self) -> str:
        """What the router knows, for a failure's message."""
        sessions = run("birdc", "-s", str(self.router_sock), "show", "protocols", "all",
                       check=False).stdout  # fmt: skip
        kernel = run("ip", "route", "show", f"{VIP}/32", ns=ROUTER, check=False).stdout
        return f"{sessions}\n{self.bird_routes()}\nip route: {kernel}"

    def bird_routes(self) -> str:
        return run("birdc", "-s", str(self.router_sock), "show", "route", f"{VIP}/32",
                   check=False).stdout  # fmt: skip


# A route's coming and going waits up to this: BIRD waits 60 s (its `error wait time`) before it
# reconnects a session that BFD took down, and under QEMU's emulation on a loaded host the VM can
# stall past BFD's 0.9 s (one run: both of the router's sessions down at once, then a minute's
# wait, beyond the 60 s this was). The bounds the product promises are checked apart
# (WITHDRAWN_WITHIN; the hard death's move is printed).
SETTLE = 60.0 + 30.0


def wait_for(
    predicate, seconds: float = SETTLE, what: str = "", lab: BgpLab | None = None
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    state = lab.router_state() if lab is not None else ""
    raise AssertionError(f"not within {seconds:.0f} s: {what}\n{state}")


def ipvs_connections(ns: str) -> int:
    """The service's connection count once it has settled: the kernel publishes its counters
    from the rate estimator, every 2 s, so a count read right after new connections can lag
    (one run saw 7 + 12 of 20, and the missing one appear later)."""

    def read() -> int:
        return int(run("ipvsadm", "-L", "-n", "--stats", ns=ns).stdout.split("TCP")[1].split()[1])

    last = read()
    while True:
        time.sleep(2.5)  # one estimator period and a little more
        now = read()
        if now == last:
            return now
        last = now


@pytest.fixture
def lab(topology: Topology, tmp_path: Path) -> Iterator[BgpLab]:
    built = BgpLab(tmp_path)
    try:
        built.build()
        yield built
    finally:
        built.teardown()


def connect():
    return mysql_connect(VIP, ns=CLIENT_NS, timeout=20)


def test_two_directors_announce_by_bgp_and_survive_one_withdrawing_and_one_dying(lab):
    # Both announce: the router merges the two paths into one route with two nexthops.
    for ns in DIRECTORS:
        lab.step(ns)
    wait_for(lambda: lab.nexthops() == sorted(DIRECTORS.values()), what="two nexthops", lab=lab)
    shown = lab.bird_routes()
    assert shown.count(f"[AS{LOCAL_AS}i]") == 2, shown  # one path from each director
    for ns in DIRECTORS:
        lab.step(ns)  # the worker's next poll reads the sessions again through BIRD's socket
        assert [s["info"] for s in lab.controls[ns].state.sessions] == ["Established"]

    # New connections are served, through both directors (L4 hash over 20 source ports).
    for _ in range(20):
        connection = connect()
        assert query_one(connection, "SELECT @@server_id")[0] in SERVER_IDS
        connection.close()
    spread = {ns: ipvs_connections(ns) for ns in DIRECTORS}
    print(f"20 new connections through the directors: {spread}")
    assert all(spread.values())

    # bgpd1's health checks see every real server down: it withdraws, bgpd2 serves everything.
    lab.step("bgpd1", down=ALL_DOWN)
    assert lab.controls["bgpd1"].state.announced == []
    wait_for(lambda: lab.nexthops() == [DIRECTORS["bgpd2"]], what="bgpd1's withdrawal", lab=lab)
    before = ipvs_connections("bgpd1")
    for _ in range(10):
        connect().close()
    assert ipvs_connections("bgpd1") == before
    lab.step("bgpd1")
    wait_for(lambda: lab.nexthops() == sorted(DIRECTORS.values()), what="bgpd1 back", lab=lab)

    # The operator takes bgpd1 out of service: its flows move to bgpd2 and go on.
    held, servers, through_bgpd1 = lab.held()
    service.set_out_of_service(lab.base / "bgpd1.out", True)
    lab.step("bgpd1")
    assert lab.controls["bgpd1"].state.withdrawn == {VIP: announce.OUT_OF_SERVICE}
    wait_for(lambda: lab.nexthops() == [DIRECTORS["bgpd2"]], what="taken out", lab=lab)
    assert [query_one(c, "SELECT @@server_id")[0] for c in held] == servers
    print(f"out of service: {through_bgpd1} of {len(held)} held connections moved to bgpd2")
    for c in held:
        c.close()
    service.set_out_of_service(lab.base / "bgpd1.out", False)
    lab.step("bgpd1")
    wait_for(lambda: lab.nexthops() == sorted(DIRECTORS.values()), what="back in", lab=lab)

    # The process that runs bgpd1's step dies by SIGKILL: nothing it announced stays.
    lab.controls["bgpd1"].bird.stop()
    wait_for(lambda: lab.nexthops() == [DIRECTORS["bgpd2"]], what="bgpd1's BIRD stopped", lab=lab)
    paths = lab.controls["bgpd1"].paths
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.support.bgp_worker", str(paths.conf), str(paths.socket),
         str(paths.pid_file), paths.bird, DIRECTORS["bgpd1"], VIP, LVS_CF],
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        wait_for(lambda: lab.nexthops() == sorted(DIRECTORS.values()), what="worker", lab=lab)
        worker.kill()
        worker.wait()
        gone = wait_for(lambda: lab.nexthops() == [DIRECTORS["bgpd2"]], WITHDRAWN_WITHIN,
                        "a killed worker's VIP withdrawn", lab)  # fmt: skip
        print(f"a killed worker's VIP was withdrawn {gone:.2f} s after its death")
        # How the router learnt it (a Cease from the dying BIRD, or BFD), with its times.
        log = (lab.base / "router.log").read_text().splitlines(True)
        print("".join(line for line in log[-30:] if "bgpd1" in line or "192.0.2.21" in line))
    finally:
        worker.kill()
        worker.wait()
    lab.step("bgpd1")  # a new worker: a new BIRD
    wait_for(lambda: lab.nexthops() == sorted(DIRECTORS.values()), what="restarted", lab=lab)

    # Held connections, then a hard death of bgpd1: its link gone, its BIRD killed.
    held, servers, through_bgpd1 = lab.held()
    print(f"{time.strftime('%H:%M:%S')} bgpd1 dies")
    run("ip", "link", "del", "eth0", ns="bgpd1")
    os.kill(int((lab.base / "bgpd1.pid").read_text()), signal.SIGKILL)
    moved = wait_for(
        lambda: lab.nexthops() == [DIRECTORS["bgpd2"]], what="the route moved", lab=lab
    )
    # The router's own account of the death (BFD and BGP state changes), with its times: one
    # run of three saw the move take 58 s, not yet explained.
    print("".join(line for line in (lab.base / "router.log").read_text().splitlines(True)[-40:]))
    print(
        f"route moved to bgpd2 {moved:.2f} s after the death; {through_bgpd1} of "
        f"{len(held)} held connections went through bgpd1"
    )
    # Every held connection goes on, on the same real server: mh on bgpd2 picks the same one,
    # and sloppy_tcp lets a mid-flow packet through without a sync daemon.
    assert [query_one(c, "SELECT @@server_id")[0] for c in held] == servers
    for c in held:
        c.close()
    for _ in range(10):
        connection = connect()
        assert query_one(connection, "SELECT 1") == (1,)
        connection.close()
