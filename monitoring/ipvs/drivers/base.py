"""What every IPVS driver and its callers share: the Driver protocol, the errors a driver raises,
and the kernel's address record.

A module of its own so that the drivers (netlink, memory) and the engine depend on it and never on
each other: the netlink modules import this, never drivers.py, so there is no import circle and
choosing a driver (drivers.py) stays the only place that knows them all. It imports nothing of the
package but table.py's plain types.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol

from monitoring.ipvs.table import Op, Table, TrafficTable


class DriverError(Exception):
    """The kernel (or the driver) refused something; the message is for the user."""

    def __init__(self, message: str, code: int = 0, op: Op | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.op = op


class NoIPVSError(DriverError):
    """This kernel has no IPVS (or it cannot be loaded)."""


@dataclass(frozen=True)
class KernelAddress:
    address: str
    prefixlen: int
    device: str
    label: str


@dataclass(frozen=True)
class SyncDaemon:
    """A running IPVS connection sync daemon: ``master`` sends, ``backup`` receives."""

    state: str
    iface: str
    syncid: int


@dataclass(frozen=True)
class SyncCadence:
    """When the master sync daemon sends a connection (net.ipv4.vs.sync_threshold, whose two
    numbers are ``threshold`` and ``period``, sync_refresh_period and sync_retries): at its
    ``threshold``-th incoming packet and every ``period`` packets after; with ``period`` 0 and
    ``refresh_seconds`` set, again on a packet once ``refresh_seconds`` have passed, each send
    repeated ``retries`` times (every refresh_seconds / 8) against a lost message."""

    threshold: int
    period: int
    refresh_seconds: int
    retries: int


KERNEL_SYNC_CADENCE = SyncCadence(3, 50, 0, 0)  # the kernel's default


class Driver(Protocol):
    name: str

    def dump(self) -> Table: ...
    # Each service's and destination's traffic counters, for /metrics: callable
    # from another thread than the one that applies, without its lock (the netlink driver reads
    # it on a socket of its own, so a long dump never holds an apply back).
    def traffic(self) -> TrafficTable: ...
    def apply(self, ops: list[Op]) -> int: ...
    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None: ...
    def timeouts(self) -> tuple[int, int, int]: ...
    def version(self) -> tuple[str, int]: ...
    def addresses(self) -> list[KernelAddress]: ...
    def add_address(self, address: str, prefixlen: int, device: str, label: str) -> None: ...
    def remove_address(self, address: str, prefixlen: int, device: str) -> None: ...
    def ip_forward(self) -> bool: ...
    def set_ip_forward(self, on: bool) -> None: ...
    # The device a packet to `address` leaves by (`ip route get`), and an IPv4 sysctl of a
    # device (net.ipv4.conf.DEVICE.NAME): the path checks need accept_local and rp_filter.
    def route_device(self, address: str) -> str: ...
    def interface_sysctl(self, device: str, name: str) -> str: ...
    def set_interface_sysctl(self, device: str, name: str, value: str) -> None: ...
    def gratuitous_arp(
        self, address: str, device: str, count: int = 5, interval: float = 1.0
    ) -> threading.Thread | None: ...
    def sync_daemons(self) -> list[SyncDaemon]: ...
    def start_sync_daemon(self, state: str, iface: str, syncid: int) -> None: ...
    def stop_sync_daemon(self, state: str) -> None: ...
    def sync_cadence(self) -> SyncCadence: ...
    def set_sync_cadence(self, cadence: SyncCadence) -> None: ...
    def close(self) -> None: ...
