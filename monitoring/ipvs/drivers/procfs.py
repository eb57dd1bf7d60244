"""The IPVS table from /proc/net/ip_vs, the kernel's own text of it.

Why: one read of this file gives every service and destination, where a netlink dump needs one
request per service; on a large table the text is the faster dump. It is read in this process's
network namespace, like the netlink socket. What the text cannot say is left to netlink (the
caller falls back to a netlink dump when read_table returns None).
"""

from __future__ import annotations

import socket
from collections.abc import Callable

from monitoring.ipvs.table import Destination, Service, ServiceEntry, ServiceKey, Table

PROC_IPVS = "/proc/net/ip_vs"
PROC_FORWARD = {"Masq": "masq", "Local": "local", "Tunnel": "tunnel", "Route": "route"}


class _ServiceIndex:
    """The services of one netlink dump, by key, and each firewall mark's address families."""

    def __init__(self, services: list[Service]) -> None:
        self.by_key = {service.key: service for service in services}
        self.marks: dict[int, set[int]] = {}
        for key in self.by_key:
            if key.protocol == "fwm":
                self.marks.setdefault(key.fwmark, set()).add(key.family)


def _proc_endpoint(text: str) -> tuple[str, int]:
    """An endpoint as /proc/net/ip_vs prints it ("C00002F0:0CEA", "[2001:0db8:...]:0CEA")."""
    if text[0] == "[":
        address, port = text[1:].split("]:")
        packed = socket.inet_pton(socket.AF_INET6, address)
        return socket.inet_ntop(socket.AF_INET6, packed), int(port, 16)
    address, port = text.split(":")
    return socket.inet_ntop(socket.AF_INET, bytes.fromhex(address)), int(port, 16)


def read_table(services: Callable[[], list[Service]], path: str = PROC_IPVS) -> Table | None:
    """Parse /proc/net/ip_vs (or `path`). None where it cannot say everything netlink would:
    no such file, a protocol other than TCP, UDP or a firewall mark, or a firewall mark that
    is both an IPv4 and an IPv6 service (the text does not name the family).

    Two things the text gets from `services`, one netlink dump of the services (no per-service
    request), called only when the table has them: a firewall mark's address family, and the
    persistence timeout, which the text prints in kernel jiffies (its HZ is not knowable
    from user space)."""
    try:
        with open(path, "rb") as handle:
            lines = handle.read().decode("ascii").split("\n")
    except (OSError, UnicodeDecodeError):
        return None
    table: Table = {}
    entry: ServiceEntry | None = None
    index: _ServiceIndex | None = None
    for line in lines[3:]:  # a version line and two heading lines
        if not line:
            continue
        fields = line.split()
        if line[0] == " ":  # "  -> C0000201:0CEA      Route   1      0          0"
            if entry is None or len(fields) < 6:
                return None
            address, port = _proc_endpoint(fields[1])
            entry.destinations[(address, port)] = Destination(
                address,
                port,
                PROC_FORWARD.get(fields[2], "route"),
                int(fields[3]),
                int(fields[4]),
                int(fields[5]),
            )
            continue
        protocol = fields[0]
        if protocol == "FWM":  # "FWM  00000005 rr [ops ][persistent 300 FFFFFF00]"
            mark = int(fields[1], 16)
            index = index or _ServiceIndex(services())
            families = index.marks.get(mark, set())
            if len(families) != 1:
                return None
            key = ServiceKey.for_fwmark(mark, next(iter(families)))
        elif protocol in ("TCP", "UDP"):  # "TCP  C00002F0:0CEA lc [ops ][persistent ...]"
            address, port = _proc_endpoint(fields[1])
            key = ServiceKey(protocol.lower(), address, port, 0, 6 if ":" in address else 4)
        else:
            return None
        rest = fields[2:]
        persistent, mask = 0, ""
        if "persistent" in rest:
            at = rest.index("persistent")
            index = index or _ServiceIndex(services())
            known = index.by_key.get(key)
            if known is None:  # made between the two reads: take it all from netlink
                return None
            persistent = known.persistent
            raw = rest[at + 2] if len(rest) > at + 2 else "FFFFFFFF"
            if key.family == 4 and raw.upper() != "FFFFFFFF":
                mask = socket.inet_ntop(socket.AF_INET, bytes.fromhex(raw))
        entry = ServiceEntry(Service(key, rest[0], persistent, mask))
        table[key] = entry
    return table
