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
from scripts.testbed.bgp_router import (
    CLIENT_IP,
    CLIENT_NS,
    LOCAL_AS,
    SETTLE,
    Router,
    lvs_cf_keys,
)
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

DIRECTORS = {"bgpd1": "192.0.2.21", "bgpd2": "192.0.2.22"}
LVS_CF = (
    f"network = direct\n{lvs_cf_keys()}"
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


class BgpLab:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.router = Router(base, DIRECTORS)
        self.controls: dict[str, BgpControl] = {}
        self.drivers: dict[str, MemoryDriver] = {}
        self.config = parse(LVS_CF)[0]

    def build(self) -> None:
        self.router.build()
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
        for name in DIRECTORS:
            try:
                os.kill(int((self.base / f"{name}.pid").read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        for ns in DIRECTORS:
            run("ip", "netns", "del", ns, check=False)
        self.router.teardown()

    def step(self, ns: str, down: set[RealServerRef] | frozenset = frozenset()) -> None:
        control = self.controls[ns]
        control.step(self.config, self.drivers[ns], table_loaded=True, down=down)
        assert control.state.message == "", control.state.message


def wait_for(
    predicate, seconds: float = SETTLE, what: str = "", lab: BgpLab | None = None
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if predicate():
            return time.monotonic() - started
        time.sleep(0.1)
    state = lab.router.state() if lab is not None else ""
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
    wait_for(
        lambda: lab.router.nexthops() == sorted(DIRECTORS.values()), what="two nexthops", lab=lab
    )
    shown = lab.router.bird_routes()
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
    wait_for(
        lambda: lab.router.nexthops() == [DIRECTORS["bgpd2"]], what="bgpd1's withdrawal", lab=lab
    )
    before = ipvs_connections("bgpd1")
    for _ in range(10):
        connect().close()
    assert ipvs_connections("bgpd1") == before
    lab.step("bgpd1")
    wait_for(
        lambda: lab.router.nexthops() == sorted(DIRECTORS.values()), what="bgpd1 back", lab=lab
    )

    # The operator takes bgpd1 out of service: its flows move to bgpd2 and go on.
    held, servers, through_bgpd1 = lab.held()
    service.set_out_of_service(lab.base / "bgpd1.out", True)
    lab.step("bgpd1")
    assert lab.controls["bgpd1"].state.withdrawn == {VIP: announce.OUT_OF_SERVICE}
    wait_for(lambda: lab.router.nexthops() == [DIRECTORS["bgpd2"]], what="taken out", lab=lab)
    assert [query_one(c, "SELECT @@server_id")[0] for c in held] == servers
    print(f"out of service: {through_bgpd1} of {len(held)} held connections moved to bgpd2")
    for c in held:
        c.close()
    service.set_out_of_service(lab.base / "bgpd1.out", False)
    lab.step("bgpd1")
    wait_for(lambda: lab.router.nexthops() == sorted(DIRECTORS.values()), what="back in", lab=lab)

    # The process that runs bgpd1's step dies by SIGKILL: nothing it announced stays.
    lab.controls["bgpd1"].bird.stop()
    wait_for(
        lambda: lab.router.nexthops() == [DIRECTORS["bgpd2"]], what="bgpd1's BIRD stopped", lab=lab
    )
    paths = lab.controls["bgpd1"].paths
    worker = subprocess.Popen(
        [sys.executable, "-m", "tests.support.bgp_worker", str(paths.conf), str(paths.socket),
         str(paths.pid_file), paths.bird, DIRECTORS["bgpd1"], VIP, LVS_CF],
        cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    try:
        wait_for(
            lambda: lab.router.nexthops() == sorted(DIRECTORS.values()), what="worker", lab=lab
        )
        worker.kill()
        worker.wait()
        gone = wait_for(lambda: lab.router.nexthops() == [DIRECTORS["bgpd2"]], WITHDRAWN_WITHIN,
                        "a killed worker's VIP withdrawn", lab)  # fmt: skip
        print(f"a killed worker's VIP was withdrawn {gone:.2f} s after its death")
        # How the router learnt it (a Cease from the dying BIRD, or BFD), with its times.
        log = lab.router.log.read_text().splitlines(True)
        print("".join(line for line in log[-30:] if "bgpd1" in line or "192.0.2.21" in line))
    finally:
        worker.kill()
        worker.wait()
    lab.step("bgpd1")  # a new worker: a new BIRD
    wait_for(lambda: lab.router.nexthops() == sorted(DIRECTORS.values()), what="restarted", lab=lab)

    # Held connections, then a hard death of bgpd1: its link gone, its BIRD killed.
    held, servers, through_bgpd1 = lab.held()
    print(f"{time.strftime('%H:%M:%S')} bgpd1 dies")
    run("ip", "link", "del", "eth0", ns="bgpd1")
    os.kill(int((lab.base / "bgpd1.pid").read_text()), signal.SIGKILL)
    moved = wait_for(
        lambda: lab.router.nexthops() == [DIRECTORS["bgpd2"]], what="the route moved", lab=lab
    )
    # The router's own account of the death (BFD and BGP state changes), with its times: one
    # run of three saw the move take 58 s, not yet explained.
    print("".join(line for line in lab.router.log.read_text().splitlines(True)[-40:]))
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
