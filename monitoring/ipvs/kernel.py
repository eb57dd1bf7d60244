"""The real kernel's Driver (monitoring.ipvs.base.Driver): the IPVS table over generic netlink
(ipvs_netlink.py) and the host's addresses, ip_forward and gratuitous ARP (addresses.py).

Loaded only by the worker and applylvs, through drivers.get_driver("netlink"): the web process
never imports it, nor pyroute2, nor needs root.
"""

from __future__ import annotations

import threading

from monitoring.ipvs import addresses
from monitoring.ipvs.base import KernelAddress, SyncDaemon
from monitoring.ipvs.ipvs_netlink import IPVSNetlink
from monitoring.ipvs.table import Op, Table


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

    def traffic(self) -> Table:
        # Over netlink (/proc/net/ip_vs has no counters): one request per service.
        if self.counters is None:
            self.counters = IPVSNetlink()
        return self.counters.dump_netlink()

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

    def gratuitous_arp(
        self, address: str, device: str, count: int = 5, interval: float = 1.0
    ) -> threading.Thread | None:
        return self.links.gratuitous_arp(address, device, count, interval)
