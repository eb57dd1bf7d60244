"""The kernel's IPVS family over generic netlink: load ip_vs if needed, apply table operations,
dump the table, read its traffic counters, and read or set the timeouts and version (what ipvsadm does).

Operations are packed by ipvs_codec.py and sent many per sendmsg (GenericNetlink.batch), as
ipvsadm-restore does. A dump reads /proc/net/ip_vs when the text says everything (procfs.py, one
read), else asks netlink: one dump of the services, then one per service for its destinations.
"""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
from collections.abc import Iterable, Iterator

from monitoring.ipvs.drivers import procfs
from monitoring.ipvs.drivers.base import DriverError, NoIPVSError, SyncDaemon
from monitoring.ipvs.drivers.codec import (
    IPVS_CMD_ATTR_DAEMON,
    IPVS_CMD_ATTR_DEST,
    IPVS_CMD_ATTR_SERVICE,
    IPVS_CMD_ATTR_TIMEOUT_TCP,
    IPVS_CMD_ATTR_TIMEOUT_TCP_FIN,
    IPVS_CMD_ATTR_TIMEOUT_UDP,
    IPVS_CMD_DEL_DAEMON,
    IPVS_CMD_GET_CONFIG,
    IPVS_CMD_GET_DAEMON,
    IPVS_CMD_GET_DEST,
    IPVS_CMD_GET_INFO,
    IPVS_CMD_GET_SERVICE,
    IPVS_CMD_NEW_DAEMON,
    IPVS_CMD_SET_CONFIG,
    IPVS_INFO_ATTR_CONN_TAB_SIZE,
    IPVS_INFO_ATTR_VERSION,
    DestTraffic,
    ServiceCodec,
    ServiceCounters,
    daemon_payload,
    parse_daemon,
    parse_dest,
    parse_service,
    timeouts_payload,
)
from monitoring.ipvs.drivers.netlink import (
    NLM_F_DUMP,
    NLM_F_REQUEST,
    RECV_SIZE,
    U32,
    GenericNetlink,
    split_buffer,
    walk_attrs,
)
from monitoring.ipvs.table import (
    Op,
    Service,
    ServiceEntry,
    ServiceKey,
    ServiceTraffic,
    Table,
    Traffic,
    TrafficTable,
)


def ensure_ipvs_module() -> None:
    """Load ip_vs if it is not there yet; NoIPVSError when this kernel cannot have it."""
    if os.path.exists(procfs.PROC_IPVS):
        return
    try:
        subprocess.run(["modprobe", "ip_vs"], check=False, capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        pass
    if not os.path.exists(procfs.PROC_IPVS):
        raise NoIPVSError(
            "this kernel has no IPVS support (modprobe ip_vs failed and /proc/net/ip_vs is missing)"
        )


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a bulk read: a traffic read at 10,000 x 10 keeps
    some 200,000 new tuples (no cycles among them), and every 700 kept started a collection, 8%
    of the read measured in the lab VM. Process-wide: switched back on only if it was on."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class IPVSNetlink(GenericNetlink):
    """One generic-netlink socket to the kernel's IPVS family."""

    def __init__(self) -> None:
        if os.geteuid() != 0:
            raise DriverError("changing the IPVS table needs root (CAP_NET_ADMIN)")
        ensure_ipvs_module()
        super().__init__()
        self.codec = ServiceCodec()
        self.service_counters = ServiceCounters()  # kept: it learns the table's keys
        family = self.family_id(b"IPVS")
        if family is None:
            raise NoIPVSError("this kernel has no IPVS generic-netlink family (is ip_vs loaded?)")
        self.family = family

    # --- table -------------------------------------------------------------------------------
    def dump(self) -> Table:
        """The kernel's table: from /proc/net/ip_vs when it says everything (one read, where
        netlink needs a request per service), else over netlink."""
        table = self.dump_proc()
        return self.dump_netlink() if table is None else table

    def dump_proc(self) -> Table | None:
        """The table as /proc/net/ip_vs says it, or None (see procfs.read_table)."""
        return procfs.read_table(self.services)

    def services(self) -> list[Service]:
        """The services, over netlink (one dump; no destinations)."""
        seq = self._next_seq()
        self.sock.send(
            self._message(self.family, NLM_F_REQUEST | NLM_F_DUMP, IPVS_CMD_GET_SERVICE, b"", seq)
        )
        services: list[Service] = []
        for _type, payload in self._replies(seq):
            for kind, start, end in walk_attrs(payload, 4):
                if kind == IPVS_CMD_ATTR_SERVICE:
                    services.append(parse_service(payload, start, end))
        return services

    def dump_netlink(self) -> Table:
        """The table over netlink: one dump of the services, then one per service."""
        table: Table = {}
        for service in self.services():
            entry = ServiceEntry(service)
            seq = self._ask_destinations(self.codec.key_only(service.key))
            for _type, payload in self._replies(seq):
                for kind, start, end in walk_attrs(payload, 4):
                    if kind == IPVS_CMD_ATTR_DEST:
                        dest = parse_dest(payload, start, end, service.key.family)
                        entry.destinations[dest.key] = dest
            table[service.key] = entry
        return table

    def traffic(self) -> TrafficTable:
        """Each service's and destination's traffic counters: one dump of the services, each
        read for its key and counters only (ServiceCounters), then one dump per service, its
        buffers of destinations decoded only for their addresses, ports and counters
        (DestTraffic); any other buffer message by message. The garbage collector waits."""
        with collector_paused():
            return self._traffic()

    def _traffic(self) -> TrafficTable:
        reader = DestTraffic()
        table: TrafficTable = {}
        services = self._service_counters()
        for key, payload, totals in services:
            if totals is None:
                continue
            seq = self._ask_destinations(payload)
            family = key.family
            destinations: dict[tuple[str, int], Traffic] = {}
            ended = False
            while not ended:
                data = self.sock.recv(RECV_SIZE)
                if reader.read_buffer(data, seq, family, destinations):
                    continue
                messages, ended = split_buffer(data, seq)
                for _type, start, end in messages:
                    # One destination per message, its attribute after the generic-netlink header.
                    for kind, body, stop in walk_attrs(data, start + 4, end):
                        if kind == IPVS_CMD_ATTR_DEST:
                            dest = parse_dest(data, body, stop, family)
                            if dest.traffic is not None:
                                destinations[dest.key] = dest.traffic
            table[key] = ServiceTraffic(totals, destinations)
        self.service_counters.forget_gone(len(services))
        return table

    def _service_counters(self) -> list[tuple[ServiceKey, bytes, Traffic | None]]:
        """Each service's key, the payload asking for its destinations, and its counters (one
        dump, read by ServiceCounters: the whole dump before the first request per service)."""
        seq = self._next_seq()
        self.sock.send(
            self._message(self.family, NLM_F_REQUEST | NLM_F_DUMP, IPVS_CMD_GET_SERVICE, b"", seq)
        )
        read = self.service_counters.read
        services = []
        for _type, data, start, end in self._messages(seq):
            for kind, body, stop in walk_attrs(data, start + 4, end):
                if kind == IPVS_CMD_ATTR_SERVICE:
                    services.append(read(data, body, stop))
        return services

    def _ask_destinations(self, payload: bytes) -> int:
        """Send the dump request for the destinations of the service `payload` names
        (ServiceCodec.key_only); its sequence number."""
        seq = self._next_seq()
        self.sock.send(
            self._message(self.family, NLM_F_REQUEST | NLM_F_DUMP, IPVS_CMD_GET_DEST, payload, seq)
        )
        return seq

    def apply(self, ops: Iterable[Op]) -> int:
        requests = self.codec.requests(ops)
        self.batch(requests)
        return len(requests)

    # --- configuration -----------------------------------------------------------------------
    def set_timeouts(self, tcp: int, tcpfin: int, udp: int) -> None:
        self.request(IPVS_CMD_SET_CONFIG, timeouts_payload(tcp, tcpfin, udp))

    def timeouts(self) -> tuple[int, int, int]:
        """The kernel's TCP, TCP FIN and UDP timeouts (`ipvsadm -L --timeout`)."""
        seq = self._next_seq()
        self.sock.send(self._message(self.family, NLM_F_REQUEST, IPVS_CMD_GET_CONFIG, b"", seq))
        values = {IPVS_CMD_ATTR_TIMEOUT_TCP: 0, IPVS_CMD_ATTR_TIMEOUT_TCP_FIN: 0}
        values[IPVS_CMD_ATTR_TIMEOUT_UDP] = 0
        for _type, payload in self._replies(seq):
            for kind, s, _e in walk_attrs(payload, 4):
                if kind in values:
                    values[kind] = U32.unpack_from(payload, s)[0]
        return (
            values[IPVS_CMD_ATTR_TIMEOUT_TCP],
            values[IPVS_CMD_ATTR_TIMEOUT_TCP_FIN],
            values[IPVS_CMD_ATTR_TIMEOUT_UDP],
        )

    def version(self) -> tuple[str, int]:
        seq = self._next_seq()
        self.sock.send(self._message(self.family, NLM_F_REQUEST, IPVS_CMD_GET_INFO, b"", seq))
        version, size = "1.2.1", 4096
        for _type, payload in self._replies(seq):
            for kind, s, _e in walk_attrs(payload, 4):
                if kind == IPVS_INFO_ATTR_VERSION:
                    v = U32.unpack_from(payload, s)[0]
                    version = f"{(v >> 16) & 0xFF}.{(v >> 8) & 0xFF}.{v & 0xFF}"
                elif kind == IPVS_INFO_ATTR_CONN_TAB_SIZE:
                    size = U32.unpack_from(payload, s)[0]
        return version, size

    # --- connection sync daemon (ipvsadm --start-daemon / --stop-daemon / -L --daemon) --------
    def sync_daemons(self) -> list[SyncDaemon]:
        seq = self._next_seq()
        self.sock.send(
            self._message(self.family, NLM_F_REQUEST | NLM_F_DUMP, IPVS_CMD_GET_DAEMON, b"", seq)
        )
        daemons = []
        for _type, payload in self._replies(seq):
            for kind, start, end in walk_attrs(payload, 4):
                if kind == IPVS_CMD_ATTR_DAEMON:
                    daemon = parse_daemon(payload, start, end)
                    if daemon is not None:
                        daemons.append(daemon)
        return daemons

    def start_sync_daemon(self, state: str, iface: str, syncid: int) -> None:
        self.request(IPVS_CMD_NEW_DAEMON, daemon_payload(state, iface, syncid))

    def stop_sync_daemon(self, state: str) -> None:
        self.request(IPVS_CMD_DEL_DAEMON, daemon_payload(state))
