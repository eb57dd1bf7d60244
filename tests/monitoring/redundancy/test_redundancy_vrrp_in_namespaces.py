"""keepalived running the generated configuration, on the host in network namespaces this test
makes (a bridge, two directors and a client; TEST-NET addresses; no IPVS needed): the VIP on
exactly one director, a hard death replaced within deadtime + 1 s with the client's neighbour
entry moved, no fail-back, the hand-over flag, monitor_links giving the role away; a director
whose worker is not ready never takes the VIP, and an upgrade that adds that gate moves nothing.

The IPVS side of a failover (both tables, the sync daemon, MySQL through the VIP) is not proven
here. This test needs only root, keepalived and iproute2, and takes ~55 s."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from monitoring.ipvs.drivers.base import KernelAddress
from monitoring.ipvs.drivers.memory import MemoryDriver
from monitoring.redundancy import keepalived
from monitoring.redundancy.director import RedundancyControl, RedundancyPaths, hand_over
from monitoring.redundancy.role import read_role
from scripts.testbed.two_directors import enter_netns
from virtualservers.lvsconf.parse import parse

VIP = "192.0.2.240"
KEEPALIVE, DEADTIME = 1, 4
NOTIFY = Path(keepalived.__file__).with_name("hook.py").resolve()


def lvs_cf(monitor_links: int) -> str:
    return (
        "primary = 192.0.2.11\nbackup_active = 1\nbackup = 192.0.2.12\n"
        f"keepalive = {KEEPALIVE}\ndeadtime = {DEADTIME}\nmonitor_links = {monitor_links}\n"
        f"network = direct\nvirtual v {{\n active = 1\n address = {VIP} eth0:1\n port = 3306\n}}\n"
    )


def ip(*argv: str) -> str:
    result = subprocess.run(["ip", *argv], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, f"ip {' '.join(argv)}: {result.stderr}"
    return result.stdout


class Lab:
    def __init__(self, base: Path) -> None:
        tag = f"{os.getpid() % 100000}"
        self.base = base
        self.switch, self.client = f"vr{tag}sw", f"vr{tag}cl"
        self.directors = {f"vr{tag}d1": "192.0.2.11", f"vr{tag}d2": "192.0.2.12"}
        self.keepalived: dict[str, subprocess.Popen[bytes]] = {}
        self.holding: dict[str, bool] = dict.fromkeys(self.directors, False)
        self.generation: dict[str, int] = dict.fromkeys(self.directors, 0)
        self.samples: list[frozenset[str]] = []
        self.stopping = False

    # --- network ---------------------------------------------------------------------------
    def build(self) -> None:
        ip("netns", "add", self.switch)
        ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        ip("-n", self.switch, "link", "set", "br0", "up")
        self.plug(self.client, "192.0.2.10")
        for name, address in self.directors.items():
            self.plug(name, address)

    def plug(self, ns: str, address: str, hwaddr: str = "") -> None:
        ip("netns", "add", ns)
        port = f"p{ns[-4:]}"
        ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0",
           "netns", ns)  # fmt: skip
        ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
        ip("-n", ns, "link", "set", "lo", "up")
        if hwaddr:  # a rebooted machine keeps its MAC
            ip("-n", ns, "link", "set", "eth0", "address", hwaddr)
        ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
        ip("-n", ns, "link", "set", "eth0", "up")

    def mac(self, ns: str) -> str:
        return json.loads(ip("-j", "-n", ns, "link", "show", "eth0"))[0]["address"]

    def neighbour(self) -> str:
        entries = json.loads(ip("-j", "-n", self.client, "neigh", "show", VIP))
        return entries[0].get("lladdr", "") if entries else ""

    def client_sends(self) -> None:
        """A datagram from the client to the VIP, so that its kernel resolves the VIP's MAC."""

        def send() -> None:
            enter_netns(self.client)
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(b"x", (VIP, 9))

        thread = threading.Thread(target=send)
        thread.start()
        thread.join()

    # --- keepalived --------------------------------------------------------------------------
    def configure(self, ns: str, monitor_links: int, ready_track: bool = True) -> bool:
        """`ready_track`: False as a version before the worker-ready file wrote it."""
        directory = self.base / ns
        directory.mkdir(exist_ok=True)
        config = parse(lvs_cf(monitor_links))[0]
        hooks = keepalived.Hooks(
            (sys.executable, str(NOTIFY)),
            directory / "role.json",
            directory / "yield",
            directory / "worker-ready" if ready_track else None,
        )
        me = keepalived.whoami(config, [(self.directors[ns], "eth0")])
        return keepalived.write_if_changed(
            directory / "keepalived.conf", keepalived.render(config, me, hooks)
        )

    def start(self, ns: str, worker_ready: bool = True) -> None:
        """keepalived started as `manage.py vrrp --exec-keepalived` starts it; `worker_ready`: the
        worker (not run here) has loaded its table, as it has within a poll of its start."""
        directory = self.base / ns
        keepalived.before_start(directory / "k.pid", directory / "worker-ready")
        if worker_ready:
            keepalived.mark_ready(directory / "worker-ready")
        log = open(directory / "log", "ab")  # noqa: SIM115 (kept by the process)
        self.keepalived[ns] = subprocess.Popen(
            ["ip", "netns", "exec", ns,
             *keepalived.command("keepalived", directory / "keepalived.conf", directory / "k.pid")],
            stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip
        self.watch(ns)

    def role(self, ns: str) -> str:
        return read_role(self.base / ns / "role.json").role

    def kill(self, ns: str) -> None:
        """kill -9 of every process in the namespace (keepalived and its VRRP child)."""
        pids = [int(pid) for pid in ip("netns", "pids", ns).split()]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        self.keepalived[ns].wait(timeout=10)
        # The VRRP child takes a moment to exit (seen in state D after leaving the namespace);
        # until then keepalived, started again, says "daemon is already running".
        deadline = time.monotonic() + 10
        while any(map(keepalived.live_process, pids)) and time.monotonic() < deadline:
            time.sleep(0.05)

    # --- who holds the VIP, every 100 ms -----------------------------------------------------
    def watch(self, ns: str) -> None:
        self.generation[ns] += 1
        threading.Thread(target=self._watch, args=(ns, self.generation[ns]), daemon=True).start()

    def _watch(self, ns: str, generation: int) -> None:
        enter_netns(ns)
        while not self.stopping and self.generation[ns] == generation:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind((VIP, 0))
                held = True
            except OSError:
                held = False
            if self.generation[ns] == generation:
                self.holding[ns] = held
            time.sleep(0.05)

    def forget(self, ns: str) -> None:
        self.generation[ns] += 1
        self.holding[ns] = False

    def holders(self) -> frozenset[str]:
        return frozenset(n for n, held in self.holding.items() if held)

    def sample(self) -> None:
        while not self.stopping:
            self.samples.append(self.holders())
            time.sleep(0.1)

    def teardown(self) -> None:
        self.stopping = True
        for process in self.keepalived.values():
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        for ns in [*self.directors, self.client, self.switch]:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def wait_for(condition, limit: float, what: str, lab: Lab) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            logs = {n: (lab.base / n / "log").read_text()[-1500:] for n in lab.directors}
            raise AssertionError(f"{what} not within {limit} s; holders {lab.holders()}\n{logs}")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def lab(tmp_path):
    instance = Lab(tmp_path)
    try:
        instance.build()
        yield instance
    finally:
        instance.teardown()


def test_vrrp_failover_no_failback_hand_over_and_monitor_links(lab):
    first, second = lab.directors
    for ns in lab.directors:
        lab.configure(ns, monitor_links=0)
        lab.start(ns)
    threading.Thread(target=lab.sample, daemon=True).start()
    wait_for(lambda: len(lab.holders()) == 1, 30, "one director holding the VIP", lab)
    (active,) = lab.holders()
    standby = second if active == first else first
    wait_for(lambda: (lab.role(active), lab.role(standby)) == ("active", "standby"), 15,
             "the role files", lab)  # fmt: skip
    lab.client_sends()
    wait_for(lambda: lab.neighbour() == lab.mac(active), 5, "the client's ARP entry", lab)

    # The active director dies hard: every process killed, its link gone with it.
    hwaddr, died = lab.mac(active), time.monotonic()
    lab.kill(active)
    ip("-n", active, "link", "del", "eth0")
    lab.forget(active)
    wait_for(lambda: lab.holders() == {standby}, DEADTIME + 1, "the takeover", lab)
    assert time.monotonic() - died <= DEADTIME + 1
    wait_for(lambda: lab.neighbour() == lab.mac(standby), 3, "gratuitous ARP at the client", lab)
    wait_for(lambda: lab.role(standby) == "active", 5, "the survivor's role", lab)

    # It comes back (same MAC, as after a reboot) and stays standby: no fail-back.
    ip("netns", "del", active)
    lab.plug(active, lab.directors[active], hwaddr)
    lab.start(active)
    wait_for(lambda: lab.role(active) == "standby", 15, "the returned director standing by", lab)
    settle = time.monotonic() + 2 * DEADTIME
    while time.monotonic() < settle:
        assert lab.holders() == {standby}, "the returned primary took the VIP back"
        time.sleep(0.1)

    # The operator hands the role back; the flag is cleared (by the worker, here by hand).
    asked = time.monotonic()
    hand_over(lab.base / standby / "yield")
    wait_for(lambda: lab.holders() == {active}, DEADTIME + 1, "the hand-over", lab)
    assert time.monotonic() - asked < KEEPALIVE * 2  # priority 0 advert: no master-down wait
    wait_for(lambda: lab.role(standby) == "fault", 5, "the yielding director in FAULT", lab)
    time.sleep(KEEPALIVE)
    (lab.base / standby / "yield").write_text("0\n")
    wait_for(lambda: lab.role(standby) == "standby", 10, "the yielding director standing by", lab)
    settle = time.monotonic() + 2 * KEEPALIVE * 3
    while time.monotonic() < settle:
        assert lab.holders() == {active}, "the yielding director took the VIP back"
        time.sleep(0.1)

    # monitor_links on (reload by SIGHUP: the roles stay), then the active director's link down.
    for ns in lab.directors:
        assert lab.configure(ns, monitor_links=1)
        assert keepalived.reload(lab.base / ns / "k.pid")
    time.sleep(2 * KEEPALIVE)
    assert lab.holders() == {active}
    down = time.monotonic()
    ip("-n", active, "link", "set", "eth0", "down")
    wait_for(lambda: lab.holders() == {standby}, DEADTIME + 1, "the takeover on link loss", lab)
    assert time.monotonic() - down <= DEADTIME + 1
    wait_for(lambda: lab.role(active) == "fault", 5, "the role given away", lab)

    lab.stopping = True
    both, longest = 0, 0
    for holders in lab.samples:  # every 100 ms
        both = both + 1 if len(holders) > 1 else 0
        longest = max(longest, both)
    assert longest * 0.1 <= KEEPALIVE, f"both directors held the VIP for {longest * 0.1:.1f} s"


def test_a_director_whose_worker_is_not_ready_never_takes_the_vips(lab):
    """After a reboot keepalived is up long before the worker has loaded the IPVS table (33 s in
    the lab under emulation): the peer's death then must not move the VIPs to an empty table."""
    for ns in lab.directors:
        lab.configure(ns, monitor_links=0)
        lab.start(ns)
    wait_for(lambda: len(lab.holders()) == 1, 30, "one director holding the VIP", lab)
    (active,) = lab.holders()
    (standby,) = set(lab.directors) - {active}
    wait_for(lambda: lab.role(standby) == "standby", 15, "the standby", lab)

    lab.kill(standby)  # it restarts, its worker still starting
    lab.start(standby, worker_ready=False)
    wait_for(lambda: lab.role(standby) == "fault", 15, "the restarted director in FAULT", lab)
    assert "worker has loaded the IPVS table" in read_role(lab.base / standby / "role.json").reason

    lab.kill(active)
    ip("-n", active, "link", "del", "eth0")
    lab.forget(active)
    waited = time.monotonic() + DEADTIME + 2
    while time.monotonic() < waited:
        assert lab.holders() == frozenset(), "a director without its IPVS table took the VIP"
        time.sleep(0.1)

    ready = time.monotonic()
    keepalived.mark_ready(lab.base / standby / "worker-ready")  # the worker's first apply
    wait_for(lambda: lab.holders() == {standby}, DEADTIME + 2, "the takeover once ready", lab)
    assert time.monotonic() - ready <= DEADTIME + 2
    wait_for(lambda: lab.role(standby) == "active", 5, "its role", lab)


def test_an_upgrade_adding_the_worker_ready_track_keeps_the_active_director(lab):
    """keepalived started by a version without the worker-ready track; the new worker's first
    step (before its first apply) writes the configuration with the track and reloads it."""
    for ns in lab.directors:
        lab.configure(ns, monitor_links=0, ready_track=False)
        lab.start(ns)
        (lab.base / ns / "worker-ready").unlink()  # the old version had none
    wait_for(lambda: len(lab.holders()) == 1, 30, "one director holding the VIP", lab)
    (active,) = lab.holders()
    wait_for(lambda: lab.role(active) == "active", 15, "the active director's role", lab)

    for ns in lab.directors:
        directory = lab.base / ns
        paths = RedundancyPaths(
            conf=directory / "keepalived.conf",
            pid_file=directory / "k.pid",
            role_file=directory / "role.json",
            yield_file=directory / "yield",
            notify=(sys.executable, str(NOTIFY)),
            ready_file=directory / "worker-ready",
        )
        driver = MemoryDriver(address_list=[KernelAddress(lab.directors[ns], 24, "eth0", "eth0")])
        RedundancyControl(paths).step(parse(lvs_cf(0))[0], driver, 2, table_loaded=False)
        assert keepalived.READY_TRACK in paths.conf.read_text()
    settle = time.monotonic() + 2 * DEADTIME
    while time.monotonic() < settle:
        assert lab.holders() == {active}, "the upgrade moved the VIP"
        time.sleep(0.1)
    assert lab.role(active) == "active"
