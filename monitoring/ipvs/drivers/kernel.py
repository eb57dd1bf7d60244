"""The real kernel's Driver (monitoring.ipvs.drivers.base.Driver): the IPVS table over generic netlink
(ipvs_netlink.py) and the host's addresses, ip_forward and gratuitous ARP (addresses.py).

Loaded only by the worker and applylvs, through drivers.get_driver("netlink"): the web process
never imports it, nor pyroute2, nor needs root.
"""

from __future__ import annotations

import threading
from pathlib import Path

from monitoring.ipvs.drivers import addresses
from monitoring.ipvs.drivers.base import KernelAddress, SyncCadence, SyncDaemon
from monitoring.ipvs.drivers.ipvs_family import IPVSNetlink
from monitoring.ipvs.table import Op, Table, TrafficTable

# The IPVS sysctls of this process's network namespace (there once ip_vs is loaded, which the
# netlink socket's opening did).
IPVS_SYSCTLS = Path("/proc/sys/net/ipv4/vs")


def read_sync_cadence(sysctls: Path = IPVS_SYSCTLS) -> SyncCadence:
    threshold, period = (int(n) for n in (sysctls / "sync_threshold").read_text().split())
    refresh = int((sysctls / "sync_refresh_period").read_text())
    return SyncCadence(threshold, period, refresh, int((sysctls / "sync_retries").read_text()))


def write_sync_cadence(cadence: SyncCadence, sysctls: Path = IPVS_SYSCTLS) -> None:
    # The refresh first: with period 0 and no refresh, a connection is sent only once.
    (sysctls / "sync_refresh_period").write_text(f"{cadence.refresh_seconds}\n")
    (sysctls / "sync_retries").write_text(f"{cadence.retries}\n")
    (sysctls / "sync_threshold").write_text(f"{cadence.threshold} {cadence.period}\n")


class NetlinkDriver:
    """The Driver for the real kernel."""

    name = "netlink"

    def __init__(self) -> None:
        self.ipvs = IPVSNetlink()
        self.links = addresses.Addresses()
        # The traffic counters' own socket (Driver.traffic), opened at their first read.
        self.counters: IPVSNetlink | None = None

    @property
    def messages_sent(self) -> int:
        return self.ipvs.messages_sent

    def close(self) -> None:
        self.ipvs.close()
        self.links.close()
        if self.counters is not None:
            self.counters.close()

    # --- IPVS --------------------------------------------------------------------------------
    def dump(self) -> Table:
        return self.ipvs.dump()

    def traffic(self) -> TrafficTable:
        # Over netlink (/proc/net/ip_vs has no counters): one request per service.
        if self.counters is None:
            self.counters = IPVSNetlink()
        return self.counters.traffic()

    def apply(self, ops: list[Op]) -> int:
        return self.ipvs.apply(ops)

    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        self.ipvs.set_timeouts(tcp, tcpfin, udp)

    def timeouts(self) -> tuple[int, int, int]:
        return self.ipvs.timeouts()

    def version(self) -> tuple[str, int]:
        return self.ipvs.version()

    def sync_daemons(self) -> list[SyncDaemon]:
        return self.ipvs.sync_daemons()

    def start_sync_daemon(self, state: str, iface: str, syncid: int) -> None:
        self.ipvs.start_sync_daemon(state, iface, syncid)

    def stop_sync_daemon(self, state: str) -> None:
        self.ipvs.stop_sync_daemon(state)

    def sync_cadence(self) -> SyncCadence:
        return read_sync_cadence()

    def set_sync_cadence(self, cadence: SyncCadence) -> None:
        write_sync_cadence(cadence)

    # --- the host ----------------------------------------------------------------------------
    def addresses(self) -> list[KernelAddress]:
        return self.links.addresses()

    def add_address(self, address: str, prefixlen: int, device: str, label: str) -> None:
        self.links.add_address(address, prefixlen, device, label)

    def remove_address(self, address: str, prefixlen: int, device: str) -> None:
        self.links.remove_address(address, prefixlen, device)

    def ip_forward(self) -> bool:
        return addresses.ip_forward()

    def set_ip_forward(self, on: bool) -> None:
        addresses.set_ip_forward(on)

    def route_device(self, address: str) -> str:
        return self.links.route_device(address)

    def interface_sysctl(self, device: str, name: str) -> str:
        return addresses.interface_sysctl(device, name)

    def set_interface_sysctl(self, device: str, name: str, value: str) -> None:
        addresses.set_interface_sysctl(device, name, value)

    def gratuitous_arp(
        self, address: str, device: str, count: int = 5, interval: float = 1.0
    ) -> threading.Thread | None:
        return self.links.gratuitous_arp(address, device, count, interval)
