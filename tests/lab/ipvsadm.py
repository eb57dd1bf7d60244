"""Reading the kernel's IPVS table back with the real `ipvsadm`: the independent check of what
the product wrote (it never goes through the product's own netlink code)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from scripts.testbed.topology import run


@dataclass(frozen=True)
class Destination:
    address: str  # "IP:port"
    forward: str  # Route, Masq, Tunnel, Local
    weight: int
    active: int  # ActiveConn
    inactive: int  # InActConn


@dataclass
class Service:
    protocol: str  # TCP, UDP, FWM
    address: str  # "VIP:port", or the mark for FWM
    scheduler: str
    flags: str  # the rest of the line, e.g. "persistent 300 mask 255.255.255.0"
    destinations: list[Destination] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.protocol} {self.address}"

    def destination(self, address: str) -> Destination:
        for dest in self.destinations:
            if dest.address == address:
                return dest
        raise KeyError(f"{address} is not a destination of {self.key}: {self.destinations}")


_SERVICE = re.compile(r"^(TCP|UDP|FWM|SCTP)\s+(\S+)\s+(\S+)\s*(.*)$")
_DEST = re.compile(r"^\s+->\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")


def ipvsadm_ln() -> str:
    """The text of `ipvsadm -Ln`, as a user would read it."""
    return run("ipvsadm", "-Ln").stdout


def ipvsadm_save() -> str:
    """The text of `ipvsadm -S -n` (rule format)."""
    return run("ipvsadm", "-S", "-n").stdout


def parse(text: str) -> dict[str, Service]:
    """`ipvsadm -Ln` output -> services keyed "TCP 192.0.2.240:3306" / "FWM 5"."""
    services: dict[str, Service] = {}
    current: Service | None = None
    for line in text.splitlines():
        if line.startswith(("IP Virtual Server", "Prot ", "  -> RemoteAddress")):
            continue
        if match := _SERVICE.match(line):
            current = Service(*match.groups())
            services[current.key] = current
        elif match := _DEST.match(line):
            assert current is not None, f"destination before any service: {line!r}"
            address, forward, weight, active, inactive = match.groups()
            current.destinations.append(
                Destination(address, forward, int(weight), int(active), int(inactive))
            )
        elif line.strip():
            raise AssertionError(f"unexpected ipvsadm line: {line!r}")
    return services


def table() -> dict[str, Service]:
    return parse(ipvsadm_ln())


def shape(text: str | None = None) -> list[str]:
    """The table as a user reads it, minus the header and the connection counters (which depend on
    traffic): ["TCP  192.0.2.240:3306 lc", "  -> 192.0.2.241:3306 Route 1", ...], services and
    their destinations in the kernel's order."""
    lines: list[str] = []
    for service in parse(ipvsadm_ln() if text is None else text).values():
        head = f"{service.protocol}  {service.address} {service.scheduler}"
        lines.append(f"{head} {service.flags}".rstrip())
        lines.extend(
            f"  -> {dest.address} {dest.forward} {dest.weight}" for dest in service.destinations
        )
    return lines
