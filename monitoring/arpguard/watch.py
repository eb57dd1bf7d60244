"""The worker's side of the ARP guard: a thread of its own (a round waits half a second for
answers, which neither the checks' event loop nor the control thread may), the file CONTROL and
/metrics read, and the notifications of conflicts that start and end."""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from monitoring.arpguard import packet
from monitoring.arpguard.guard import ArpGuard, Conflict, Target, base_device
from monitoring.notify.events import Event, EventType
from virtualservers.lvsconf.files import write_atomically
from virtualservers.lvsconf.model import LvsConfig

log = logging.getLogger("lvsadmin.worker")
SUFFIX = ".arp-guard"
TICK_SECONDS = 1.0


def guard_file(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + SUFFIX)


def targets_of(config: LvsConfig) -> list[Target]:
    """Every active virtual server's IPv4 VIP on the interface lvs.cf names for it."""
    found: dict[str, Target] = {}
    for virtual in config.virtuals:
        if not (virtual.effective_active and virtual.address and virtual.device):
            continue
        try:
            if ipaddress.ip_address(virtual.address).version != 4:
                continue
        except ValueError:
            continue  # a host name: the daemons resolve it, the guard does not guess
        reals = tuple(s.address for s in virtual.servers if s.address)
        known = found.get(virtual.address)
        if known is not None:
            reals = tuple(dict.fromkeys(known.real_servers + reals))
        found[virtual.address] = Target(virtual.address, virtual.device, reals)
    return sorted(found.values(), key=lambda t: t.vip)


def peer_address(config: LvsConfig, local: set[str]) -> str:
    """The other director's address (lvs.cf's primary or backup that is not this host's)."""
    if not config.backup_active:
        return ""
    for address in (config.primary, config.backup):
        if address and address not in local and address != "0.0.0.0":
            return address
    return ""


def conflict_event(conflict: Conflict, started: bool) -> Event:
    return Event(
        EventType.VIP,
        conflict.vip,
        "ARP_CONFLICT" if started else "ARP_CLEAR",
        "" if started else "ARP_CONFLICT",
        conflict.fix() if started else f"{conflict.mac} no longer answers for {conflict.vip}",
        time.time(),
    )


class ArpWatch:
    """Runs rounds on its thread while the worker runs. `config` is read from the worker (the
    control thread replaces the whole object, so reading the reference is enough)."""

    def __init__(
        self,
        state_path: Path,
        config: Callable[[], LvsConfig | None],
        notify: Callable[[Event], object],
        local_addresses: Callable[[], set[str]],
        ask: Callable[[str, list[str]], dict[str, set[str]]] = packet.ask,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = guard_file(state_path)
        self.config = config
        self.notify = notify
        self.local_addresses = local_addresses
        self.ask = ask
        self.guard = ArpGuard(clock)
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.written: str | None = None
        self.failed = ""

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run, name="lvsadmin-arp-guard", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)

    def _run(self) -> None:
        while not self.stopping.wait(TICK_SECONDS):
            try:
                self.step()
            except Exception as exc:  # a round that fails is logged once and tried again
                if str(exc) != self.failed:
                    log.warning("ARP guard: %s", exc)
                    self.failed = str(exc)

    def step(self) -> bool:
        """One round over the VIPs that are due; True when it asked anything."""
        config = self.config()
        targets = targets_of(config) if config is not None else []
        ended = self.guard.forget_except({t.vip for t in targets})  # VIPs no longer configured
        due = self.guard.due(targets)
        started: list[Conflict] = []
        if config is not None and due:
            started, answered_again = self._round(config, due)
            ended += answered_again
            self.failed = ""
        for conflict in started:
            log.warning("ARP guard: %s", conflict.fix())
            self.notify(conflict_event(conflict, True))
        for conflict in ended:
            log.info("ARP guard: %s no longer answers for %s", conflict.mac, conflict.vip)
            self.notify(conflict_event(conflict, False))
        self._write(len(targets))
        return bool(due)

    def _round(self, config: LvsConfig, due: list[Target]) -> tuple[list[Conflict], list[Conflict]]:
        """Ask on each interface for its due VIPs (and the peer director, to learn its MAC);
        the conflicts that started and those that ended."""
        peer = peer_address(config, self.local_addresses())
        answers: dict[str, set[str]] = {}
        allowed = packet.own_macs()
        by_device: dict[str, list[Target]] = defaultdict(list)
        for target in due:
            by_device[base_device(target.device)].append(target)
        for device, group in by_device.items():
            asked = [t.vip for t in group] + ([peer] if peer else [])
            try:
                found = self.ask(device, asked)
            except OSError as exc:
                raise OSError(f"cannot ask on {device}: {exc}") from None
            answers.update(found)
            allowed |= found.get(peer, set()) if peer else set()
        return self.guard.record(due, answers, allowed, packet.neighbours())

    def _write(self, guarded: int) -> None:
        data = {
            "guarded": guarded,
            "conflicts": [{**c.as_dict(), "fix": c.fix()} for c in self.guard.current()],
        }
        text = json.dumps(data, sort_keys=True)
        if text != self.written:
            # Readable by the web's user, the state directory's group (the worker's umask is 027).
            write_atomically(self.path, text, mode=0o640, group_of=self.path.parent)
            self.written = text


def read_conflicts(state_path: Path) -> dict:
    """What the worker last found: {"guarded": N, "conflicts": [...]} ({} without a worker)."""
    try:
        data = json.loads(guard_file(state_path).read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
