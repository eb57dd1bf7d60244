"""The in-memory IPVS driver (the "memory" setting): a kernel in a dict, for fast unit tests of
the diff and apply logic, on hosts whose kernel has no IPVS.

It keeps IPVS's semantics where tests rely on them (an add of something present or an edit or
delete of something absent is refused) and counts the messages a kernel would have received, so
tests can assert that an apply is minimal.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from monitoring.ipvs.drivers.base import (
    KERNEL_SYNC_CADENCE,
    DriverError,
    KernelAddress,
    SyncCadence,
    SyncDaemon,
)
from monitoring.ipvs.table import Op, ServiceEntry, Table, TrafficTable, apply_op, traffic_of


@dataclass
class MemoryDriver:
    """A kernel in memory: same semantics as IPVS for add/edit/delete (errors on duplicates and
    on missing entries), counting operations so tests can assert minimality."""

    table: Table = field(default_factory=dict)
    kernel_timeouts: tuple[int, int, int] = (900, 120, 300)
    address_list: list[KernelAddress] = field(default_factory=list)
    forwarding: bool = False
    arps: list[tuple[str, str, int]] = field(default_factory=list)
    messages_sent: int = 0
    fail_on: str | None = None  # an ipvsadm text of an op to refuse, for failure tests
    name: str = "memory"
    daemons: dict[str, SyncDaemon] = field(default_factory=dict)
    cadence: SyncCadence = KERNEL_SYNC_CADENCE
    # address -> device for route_device (default "eth0"); (device, name) -> a sysctl's value.
    routes: dict[str, str] = field(default_factory=dict)
    sysctls: dict[tuple[str, str], str] = field(default_factory=dict)

    def dump(self) -> Table:
        # list() copies the items in one step: traffic() runs without the worker's lock.
        return {
            k: ServiceEntry(v.service, dict(v.destinations)) for k, v in list(self.table.items())
        }

    def traffic(self) -> TrafficTable:
        return traffic_of(self.dump())  # whatever counters a test put on the entries

    def apply(self, ops: list[Op]) -> int:
        done = 0
        for op in ops:
            if self.fail_on is not None and op.to_ipvsadm() == self.fail_on:
                raise DriverError(
                    f"the kernel refused `ipvsadm {op.to_ipvsadm()}`: Invalid argument", 22, op
                )
            try:
                apply_op(self.table, op)
            except KeyError as exc:
                raise DriverError(
                    f"the kernel refused `ipvsadm {op.to_ipvsadm()}`: {exc}", 17, op
                ) from None
            self.messages_sent += 1
            done += 1
        return done

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        self.kernel_timeouts = (
            tcp or self.kernel_timeouts[0],
            tcpfin or self.kernel_timeouts[1],
            udp or self.kernel_timeouts[2],
        )
        self.messages_sent += 1

    def timeouts(self) -> tuple[int, int, int]:
        return self.kernel_timeouts

    def version(self) -> tuple[str, int]:
        return ("1.2.1", 4096)

    def addresses(self) -> list[KernelAddress]:
        return list(self.address_list)

    def add_address(self, address: str, prefixlen: int, device: str, label: str) -> None:
        if not any(a.address == address and a.device == device for a in self.address_list):
            self.address_list.append(KernelAddress(address, prefixlen, device, label))

    def remove_address(self, address: str, prefixlen: int, device: str) -> None:
        self.address_list = [
            a for a in self.address_list if not (a.address == address and a.device == device)
        ]

    def ip_forward(self) -> bool:
        return self.forwarding

    def set_ip_forward(self, on: bool) -> None:
        self.forwarding = on

    def route_device(self, address: str) -> str:
        return self.routes.get(address, "eth0")

    def interface_sysctl(self, device: str, name: str) -> str:
        # The kernel's defaults: no accept_local; rp_filter as Debian's systemd sets it (loose).
        return self.sysctls.get((device, name), {"rp_filter": "2"}.get(name, "0"))

    def set_interface_sysctl(self, device: str, name: str, value: str) -> None:
        self.sysctls[(device, name)] = value

    def gratuitous_arp(
        self, address: str, device: str, count: int = 5, interval: float = 1.0
    ) -> threading.Thread | None:
        self.arps.append((address, device, count))
        return None

    def sync_daemons(self) -> list[SyncDaemon]:
        return [self.daemons[state] for state in sorted(self.daemons)]

    def start_sync_daemon(self, state: str, iface: str, syncid: int) -> None:
        # The kernel refuses a second daemon of the same state (EEXIST), as here.
        if state in self.daemons:
            raise DriverError(f"a {state} sync daemon already runs", 17)
        self.daemons[state] = SyncDaemon(state, iface, syncid & 0xFF)
        self.messages_sent += 1

    def stop_sync_daemon(self, state: str) -> None:
        if self.daemons.pop(state, None) is None:
            raise DriverError(f"no {state} sync daemon runs", 3)
        self.messages_sent += 1

    def sync_cadence(self) -> SyncCadence:
        return self.cadence

    def set_sync_cadence(self, cadence: SyncCadence) -> None:
        self.cadence = cadence

    def close(self) -> None:
        pass
