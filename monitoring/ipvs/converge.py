"""Converge the kernel to a configuration: the IPVS table by the fewest operations, the VIPs, the
NAT router address and ip_forward. Used by `applylvs` and the worker; needs no database.

What this tool owns (services and VIPs it created) is remembered in a small JSON state file, so a
service someone made by hand is never touched, and ours are removed when they leave the file.
A lock next to the state file keeps cron's applylvs and the worker from applying at once.
"""

from __future__ import annotations

import errno
import fcntl
import json
import threading
import time
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from monitoring.ipvs.drivers.base import Driver, DriverError
from monitoring.ipvs.table import (
    DesiredState,
    Op,
    RealServerRef,
    ServiceKey,
    Vip,
    desired_state,
    diff,
    is_path_service,
)
from monitoring.live.holds import Held
from virtualservers.lvsconf.files import write_atomically
from virtualservers.lvsconf.model import LvsConfig
from virtualservers.lvsconf.paths import PathCheck

LOCK_WAIT_SECONDS = 10.0


class ApplyBusy(Exception):
    """Another apply holds the lock."""


@dataclass
class OwnedState:
    services: set[ServiceKey] = field(default_factory=set)
    vips: set[Vip] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> OwnedState:
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError) as exc:
            raise DriverError(f"cannot read the apply state {path}: {exc}") from None
        return cls(
            {ServiceKey(**item) for item in data.get("services", [])},
            {Vip(**item) for item in data.get("vips", [])},
        )

    def save_if_changed(self, path: Path, loaded: OwnedState | None) -> None:
        """Save unless it is still what was `loaded` (None: nothing was): drift repair
        converges every few seconds, and serializing 1,000 services and writing them durably
        each time was most of its cost (bench_worker.py)."""
        if self != loaded:
            self.save(path)

    def save(self, path: Path) -> None:
        data = {
            "services": [asdict(k) for k in sorted(self.services)],
            "vips": [asdict(v) for v in sorted(self.vips, key=lambda v: (v.address, v.label))],
        }
        write_atomically(path, json.dumps(data, indent=1), mode=0o600, durable=True)


@contextmanager
def apply_lock(state_path: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    state_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = state_path.with_name(state_path.name + ".lock")
    with open(lock_path, "a") as handle:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() >= deadline:
                    raise ApplyBusy(f"another apply is running (lock {lock_path})") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class ApplyResult:
    ops: list[Op] = field(default_factory=list)
    executed: int = 0
    vips_added: list[Vip] = field(default_factory=list)
    vips_removed: list[Vip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    arp_threads: list[threading.Thread] = field(default_factory=list)
    desired: DesiredState | None = None
    timeouts_set: tuple[int, int, int] | None = None  # (tcp, tcpfin, udp) when they changed
    # (device, sysctl, value before, value set) of what the path checks needed changed.
    sysctls_set: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary(self) -> str:
        labels = {
            "add_service": ("service", "added"),
            "edit_service": ("service", "changed"),
            "del_service": ("service", "removed"),
            "add_dest": ("real server", "added"),
            "edit_dest": ("real server", "changed"),
            "del_dest": ("real server", "removed"),
        }
        counts = Counter(op.action for op in self.ops)
        parts = [
            f"{counts[action]} {noun}{'s' if counts[action] > 1 else ''} {verb}"
            for action, (noun, verb) in labels.items()
            if counts.get(action)
        ]
        for vips, verb in ((self.vips_added, "added"), (self.vips_removed, "removed")):
            if vips:
                parts.append(f"{len(vips)} VIP{'s' if len(vips) > 1 else ''} {verb}")
        if self.timeouts_set:
            parts.append("timeouts set")
        for device, name, _before, value in self.sysctls_set:
            parts.append(f"net.ipv4.conf.{device}.{name} = {value}")
        if not parts:
            return "nothing to do: the kernel already matches the configuration"
        return f"{len(self.ops)} operation{'s' if len(self.ops) != 1 else ''}: " + ", ".join(parts)


def apply(
    config: LvsConfig,
    driver: Driver,
    state_path: Path,
    down: Collection[RealServerRef] = (),
    dry_run: bool = False,
    arp_count: int = 5,
    lock_wait: float = LOCK_WAIT_SECONDS,
    held: Held | None = None,
    weights: Mapping[RealServerRef, int] | None = None,
    paths: Iterable[PathCheck] = (),
    keep_path_services: bool = False,
    path_devices: dict[str, str] | None = None,
    desired: DesiredState | None = None,
) -> ApplyResult:
    """Converge; on a refused operation stop there, keep what was not reached as it was, and
    say which operation failed and why (result.error).

    `paths` (the worker's) adds the private services of the checks through the forwarding path
    and sets what the director needs for them (path_sysctls). Without a worker they are not
    wanted, and ones a crashed worker left are removed like any service of ours that left the
    configuration; `keep_path_services` keeps them (`applylvs --dry-run` while a worker runs).
    `desired`: the caller's desired_state() for exactly these arguments, already computed."""
    paths = list(paths)
    if desired is None:
        desired = desired_state(config, down, held=held, weights=weights, paths=paths)
    result = ApplyResult(warnings=list(desired.warnings), desired=desired)
    with apply_lock(state_path, lock_wait):
        owned = OwnedState.load(state_path)
        loaded = OwnedState(set(owned.services), set(owned.vips)) if state_path.exists() else None
        current = driver.dump()
        if keep_path_services:
            operators = set(desired.table)
            for key, entry in current.items():
                if is_path_service(key, operators):
                    desired.table.setdefault(key, entry)
        result.ops = diff(current, desired.table, owned.services)
        if dry_run:
            result.vips_added, result.vips_removed = _vip_changes(
                driver, desired, owned, config.redundant
            )
            _timeouts(config, driver, result, dry_run=True)
            return result
        try:
            result.executed = driver.apply(result.ops)
        except DriverError as exc:
            result.error = str(exc)
            # What did get created is ours now, so a later apply can finish or undo it.
            after = driver.dump()
            owned.services = (owned.services & after.keys()) | (desired.table.keys() & after.keys())
            owned.save_if_changed(state_path, loaded)
            return result
        owned.services = set(desired.table)
        _timeouts(config, driver, result)
        try:
            _converge_vips(driver, desired, owned, result, arp_count, config.redundant)
            _nat(config, driver, result)
        except DriverError as exc:
            result.error = str(exc)
        owned.save_if_changed(state_path, loaded)
    if not dry_run:
        path_sysctls(driver, paths, result, path_devices)
    return result


# What the director needs for a check through the forwarding path, on the device that leads to
# the real server: the reply comes from the VIP, a local address of the director, which the
# kernel drops as a martian unless accept_local is on; and reverse-path filtering must not drop
# it either: rp_filter 0, the setting proven in the lab VM (tests/lab/test_path_check_lab.py).
PATH_SYSCTLS = (("accept_local", "1"), ("rp_filter", "0"))


def path_sysctls(
    driver: Driver,
    paths: Iterable[PathCheck],
    result: ApplyResult,
    devices: dict[str, str] | None = None,
) -> None:
    """Set accept_local=1 and rp_filter=0 on each device a checked real server is reached by,
    and nothing else (never `all`; a strict `all.rp_filter` is reported, not changed).
    `devices` caches address -> device between converges."""
    devices = {} if devices is None else devices
    wanted: set[str] = set()
    for path in paths:
        if path.address not in devices:
            try:
                devices[path.address] = driver.route_device(path.address)
            except DriverError as exc:
                result.warnings.append(f"the path check of {path.address} cannot run: {exc}")
                continue
        wanted.add(devices[path.address])
    for device in sorted(wanted):
        for name, value in PATH_SYSCTLS:
            try:
                before = driver.interface_sysctl(device, name)
                if before != value:
                    driver.set_interface_sysctl(device, name, value)
                    result.sysctls_set.append((device, name, before, value))
            except DriverError as exc:
                result.warnings.append(f"the path checks need {name}={value} on {device}: {exc}")
    if wanted:
        try:
            strict = driver.interface_sysctl("all", "rp_filter") == "1"
        except DriverError:
            strict = False
        if strict:
            result.warnings.append(
                "net.ipv4.conf.all.rp_filter is 1 (strict): the replies of the checks through "
                "the forwarding path are dropped; set it to 0 or 2"
            )


def remove_path_services(
    driver: Driver,
    state_path: Path,
    operators: Collection[ServiceKey] = (),
    lock_wait: float = LOCK_WAIT_SECONDS,
) -> list[Op]:
    """Remove the path checks' private services this tool owns (the worker's clean stop): the
    operator's services (`operators`, which may use a mark of the range) stay as they are."""
    with apply_lock(state_path, lock_wait):
        owned = OwnedState.load(state_path)
        current = driver.dump()
        ops = [
            Op("del_service", current[key].service)
            for key in sorted(current)
            if key in owned.services and is_path_service(key, operators)
        ]
        driver.apply(ops)
        owned.services -= {op.service.key for op in ops}
        owned.save(state_path)
    return ops


def _wanted_vips(desired: DesiredState, vrrp: bool = False) -> list[Vip]:
    # With two directors keepalived (VRRP) brings the VIPs up on the active one only: adding them
    # here too would make both directors answer ARP for them. Those we added before are removed.
    if vrrp:
        return []
    return desired.vips + ([desired.nat_router] if desired.nat_router else [])


def _vip_changes(
    driver: Driver, desired: DesiredState, owned: OwnedState, vrrp: bool = False
) -> tuple[list[Vip], list[Vip]]:
    try:
        present = {(a.address, a.device) for a in driver.addresses()}
    except DriverError:
        present = set()
    wanted = _wanted_vips(desired, vrrp)
    wanted_keys = {(v.address, v.device) for v in wanted}
    added = [v for v in wanted if (v.address, v.device) not in present]
    removed = [v for v in owned.vips if (v.address, v.device) not in wanted_keys]
    return added, removed


def _converge_vips(
    driver: Driver,
    desired: DesiredState,
    owned: OwnedState,
    result: ApplyResult,
    arp_count: int,
    vrrp: bool = False,
) -> None:
    present = {(a.address, a.device) for a in driver.addresses()}
    wanted = _wanted_vips(desired, vrrp)
    wanted_keys = {(v.address, v.device) for v in wanted}
    for vip in wanted:
        if (vip.address, vip.device) in present:
            continue
        driver.add_address(vip.address, vip.prefixlen, vip.device, vip.label)
        owned.vips.add(vip)
        result.vips_added.append(vip)
        if arp_count > 0:
            thread = driver.gratuitous_arp(vip.address, vip.device, arp_count)
            if thread is not None:
                result.arp_threads.append(thread)
    for vip in sorted(owned.vips, key=lambda v: (v.address, v.label)):
        if (vip.address, vip.device) not in wanted_keys:
            driver.remove_address(vip.address, vip.prefixlen, vip.device)
            owned.vips.discard(vip)
            result.vips_removed.append(vip)


def _timeouts(
    config: LvsConfig, driver: Driver, result: ApplyResult, dry_run: bool = False
) -> None:
    tcp, tcpfin, udp = config.tcp_timeout or 0, config.tcpfin_timeout or 0, config.udp_timeout or 0
    if not (tcp or tcpfin or udp):  # 0 means "leave unchanged", as lvsd's `ipvsadm --set` did
        return
    try:
        current = driver.timeouts()
        wanted = (tcp or current[0], tcpfin or current[1], udp or current[2])
        # Read first: the worker applies on every health change, and setting unchanged timeouts
        # each time would make every change one more kernel operation.
        if wanted == current:
            return
        if not dry_run:
            driver.set_timeouts(*wanted)
        result.timeouts_set = wanted
    except DriverError as exc:
        result.warnings.append(f"could not set the TCP/TCP FIN/UDP timeouts: {exc}")


def _nat(config: LvsConfig, driver: Driver, result: ApplyResult) -> None:
    if config.effective_network != "nat" or not any(v.effective_active for v in config.virtuals):
        return
    try:
        if not driver.ip_forward():
            driver.set_ip_forward(True)
    except OSError as exc:
        result.warnings.append(f"NAT needs net.ipv4.ip_forward=1 and it could not be set: {exc}")
