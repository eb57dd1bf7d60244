"""Two directors for the lab: namespaces "dir1" (primary) and "dir2" (backup) on the lab's bridge,
each running keepalived (its own configuration, pid files and role file) and a worker.

The workers run inside the pytest process, each on a thread that entered its director's network
namespace (threads it starts inherit it, so its netlink sockets, checks and sync daemon are that
director's): a Django start-up per director costs tens of seconds under emulation. Both read the
same published revision from the test database, which is "publishing on both directors".

A director "dies hard" by kill -9 of every process in its namespace (keepalived), its worker
stopped, and its namespace deleted (its link goes with it): the VIP it held vanishes with it, as
with a machine that lost power. It "returns" as a rebooted machine: a new namespace, keepalived
and worker started again, no VIP.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.lab.topology import BRIDGE, CLONE_NEWNET, VIP, _libc, add_namespace, run

DIRECTORS = {"dir1": "192.0.2.11", "dir2": "192.0.2.12"}
KEEPALIVE, DEADTIME = 1, 4
SYNC_ID = 7


def say(message: str) -> None:
    """Progress in the guest's pytest log (run with -s): the lab is slow, and a step that hangs
    should be visible."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def enter_netns(ns: str) -> None:
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"setns into {ns}: {os.strerror(code)}")
    finally:
        os.close(fd)


def lvs_cf(text: str, syncdaemon: bool, monitor_links: bool = False) -> str:
    """A lab lvs.cf (tests.lab.lvscf) made redundant: dir1 primary, dir2 backup, short timers."""
    redundancy = "\n".join(
        [
            f"primary = {DIRECTORS['dir1']}",
            "backup_active = 1",
            f"backup = {DIRECTORS['dir2']}",
            f"keepalive = {KEEPALIVE}",
            f"deadtime = {DEADTIME}",
            f"monitor_links = {int(monitor_links)}",
            f"syncdaemon = {int(syncdaemon)}",
            "syncd_iface = eth0",
            f"syncd_id = {SYNC_ID}",
        ]
    )
    lines = [
        line for line in text.splitlines() if not line.startswith(("primary =", "backup_active ="))
    ]
    return "\n".join([lines[0], redundancy, *lines[1:]]) + "\n"


@dataclass
class Director:
    name: str
    address: str
    base: Path
    hwaddr: str = ""  # kept across a "reboot", as a real machine's NIC keeps its MAC
    keepalived: subprocess.Popen[bytes] | None = None
    worker: object = None
    thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    @property
    def role_file(self) -> Path:
        return self.base / "director-role.json"

    @property
    def conf(self) -> Path:
        return self.base / "keepalived.conf"

    @property
    def pid_file(self) -> Path:
        return self.base / "keepalived.pid"

    def role(self) -> str:
        try:
            return json.loads(self.role_file.read_text())["role"]
        except (OSError, ValueError, KeyError):
            return "none"

    def settings(self) -> dict[str, object]:
        return {
            "LVSADMIN_APPLY_STATE": self.base / "apply-state.json",
            "LVSADMIN_ROLE_FILE": self.role_file,
            "LVSADMIN_KEEPALIVED_CONF": self.conf,
            "LVSADMIN_KEEPALIVED_PID": self.pid_file,
            "LVSADMIN_VRRP_YIELD_FILE": self.base / "vrrp-yield",
            "LVSADMIN_REDUNDANCY_STATUS": self.base / "redundancy-status.json",
        }

    # --- the machine -------------------------------------------------------------------------
    def boot(self, settings) -> None:
        """The namespace, its worker, and keepalived once the worker has written its
        configuration (as `make run` starts them)."""
        self.base.mkdir(parents=True, exist_ok=True)
        add_namespace(self.name, BRIDGE, f"{self.address}/24")
        # A new veth gets a new MAC; the peer's neighbour entry would then send its unicast
        # adverts nowhere for seconds, and the returning primary would take over (a fail-back
        # a real reboot does not cause).
        if self.hwaddr:
            run("ip", "link", "set", "eth0", "address", self.hwaddr, ns=self.name)
        link = json.loads(run("ip", "-j", "link", "show", "eth0", ns=self.name).stdout)[0]
        self.hwaddr = link["address"]
        say(f"{self.name}: namespace up, starting its worker")
        self.start_worker(settings)
        deadline = time.monotonic() + 120
        while not self.conf.exists():
            if time.monotonic() > deadline or self.errors:
                raise AssertionError(
                    f"{self.name}: no keepalived.conf from the worker {self.errors}"
                )
            time.sleep(0.1)
        say(f"{self.name}: keepalived.conf written by the worker, starting keepalived")
        self.start_keepalived()

    def start_worker(self, settings) -> None:
        from monitoring.worker.loop import Worker

        for key, value in self.settings().items():
            setattr(settings, key, value)
        worker = Worker("netlink", arp_count=1)
        self.worker = worker

        def main() -> None:
            try:
                enter_netns(self.name)
                say(f"{self.name}: worker thread in its namespace")
                asyncio.run(worker.run())
            except BaseException as exc:  # shown by the test that waits on this director
                self.errors.append(exc)

        self.thread = threading.Thread(target=main, name=f"worker-{self.name}", daemon=True)
        self.thread.start()

    def start_keepalived(self) -> None:
        log = open(self.base / "keepalived.log", "ab")  # noqa: SIM115 (kept by the process)
        self.keepalived = subprocess.Popen(
            ["ip", "netns", "exec", self.name, "keepalived", "--vrrp", "--dont-fork",
             "--log-console", "--log-detail", "-f", str(self.conf), "-p", str(self.pid_file),
             "-r", str(self.base / "vrrp.pid")],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        )  # fmt: skip

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            if self.thread is not None:
                self.thread.join(timeout=30)
        self.worker = self.thread = None

    def die(self) -> None:
        """kill -9 of everything in the namespace and its link gone at once (a machine losing
        power); then the in-process worker stopped and the namespace deleted."""
        pids = run("ip", "netns", "pids", self.name, check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Threads of this process that entered the namespace keep it alive after `ip netns del`:
        # deleting the link makes sure the dead director answers nothing, ARP included.
        run("ip", "-n", self.name, "link", "del", "eth0", check=False)
        if self.keepalived is not None:
            self.keepalived.wait(timeout=30)
            self.keepalived = None
        self.stop_worker()
        run("ip", "netns", "del", self.name, check=False)

    def shutdown(self) -> None:
        if self.keepalived is not None and self.keepalived.poll() is None:
            self.keepalived.terminate()
            try:
                self.keepalived.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.keepalived.kill()
        self.keepalived = None
        self.stop_worker()
        run("ip", "-n", self.name, "link", "del", "eth0", check=False)
        run("ip", "netns", "del", self.name, check=False)

    def log_tail(self) -> str:
        try:
            return "\n".join((self.base / "keepalived.log").read_text().splitlines()[-15:])
        except OSError:
            return "(no keepalived log)"


class VipSampler:
    """Which directors hold the VIP, sampled every 100 ms from a thread per director that
    entered its namespace: binding a socket to the VIP succeeds only where it is a local
    address."""

    def __init__(self, names: list[str], every: float = 0.1) -> None:
        self.every = every
        self.samples: list[tuple[float, frozenset[str]]] = []
        self.holding: dict[str, bool] = dict.fromkeys(names, False)
        self.generation: dict[str, int] = dict.fromkeys(names, 0)
        self.stopping = False
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._watch, args=(n, 0), daemon=True) for n in names
        ]
        self.recorder = threading.Thread(target=self._record, daemon=True)

    def start(self) -> VipSampler:
        for thread in self.threads:
            thread.start()
        self.recorder.start()
        return self

    def _watch(self, name: str, generation: int) -> None:
        try:
            enter_netns(name)
        except OSError:
            return
        while not self.stopping and self.generation[name] == generation:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                    probe.bind((VIP, 0))
                held = True
            except OSError as exc:
                held = False if exc.errno == errno.EADDRNOTAVAIL else self.holding[name]
            with self.lock:
                if self.generation[name] == generation:
                    self.holding[name] = held
            time.sleep(self.every / 2)

    def _record(self) -> None:
        while not self.stopping:
            with self.lock:
                now = frozenset(n for n, held in self.holding.items() if held)
            self.samples.append((time.monotonic(), now))
            time.sleep(self.every)

    def forget(self, name: str) -> None:
        """A dead director holds nothing (its namespace is gone)."""
        with self.lock:
            self.generation[name] += 1
            self.holding[name] = False

    def watch_again(self, name: str) -> None:
        with self.lock:
            self.generation[name] += 1
            generation = self.generation[name]
        thread = threading.Thread(target=self._watch, args=(name, generation), daemon=True)
        self.threads.append(thread)
        thread.start()

    def holders(self) -> frozenset[str]:
        with self.lock:
            return frozenset(n for n, held in self.holding.items() if held)

    def longest_overlap(self) -> float:
        """The longest stretch during which more than one director held the VIP."""
        longest, start = 0.0, None
        for at, holders in self.samples:
            if len(holders) > 1:
                start = at if start is None else start
                longest = max(longest, at - start)
            else:
                start = None
        return longest

    def stop(self) -> None:
        self.stopping = True
