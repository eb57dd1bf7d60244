"""Checks through the forwarding path: which real servers get one, and the firewall mark of each.

A check to a real server's own address passes even when that server would drop every client
packet (the classic direct-routing black hole: no VIP on its `lo`; with tunnelling, none on
`tunl0`). So the worker also checks each real server the way clients reach it: through IPVS to
the VIP, delivered by the director's forwarding method to that one real server. It holds one
private firewall-mark service per real server, holding only that real server, and its check
socket carries that mark (SO_MARK), is bound to the director's own address and connects to
VIP:port (proven in the lab VM, as Google Seesaw checks DSR servers).

This module is the plan, as plain data from the configuration: both the kernel side (which
writes the private services) and the checks (which open the marked sockets) read it, and they
do not import each other. Django-free, like the rest of lvsconf.

Marks come from a range lvsadmin reserves, PATH_MARKS: 0x4C560000-0x4C563FFF ("LV" in the high
half; the 0x4000 and 0x8000 bits, which kube-proxy gives a meaning, are clear in every one). A
mark is chosen by a hash of the real server's address, port and forwarding method, so it stays
the same while other real servers come and go (no churn in the kernel); a collision, or a mark
an operator's own virtual server uses, moves it to the next free one.
"""

from __future__ import annotations

import ipaddress
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from virtualservers.lvsconf.model import LvsConfig, RealServerRef, VirtualServer

PATH_MARK_FIRST = 0x4C560000
PATH_MARK_COUNT = 0x4000
PATH_MARK_LAST = PATH_MARK_FIRST + PATH_MARK_COUNT - 1
# The forwarding methods whose path a check to the real server's own address does not cover
# (NAT's path is the director itself: a direct check already goes the clients' way back).
PATH_NETWORKS = {"direct": "route", "tunnel": "tunnel"}
# What the real server lacks when the path fails, per forwarding method (README "Real servers").
PATH_FIX = {
    "route": "is the VIP on its lo (with arp_ignore=1, arp_announce=2)?",
    "tunnel": "is its tunl0 up with the VIP (ipip module loaded, rp_filter 0)?",
}


def is_path_mark(mark: int) -> bool:
    """A mark from lvsadmin's private range (an operator's mark there is kept, and skipped)."""
    return PATH_MARK_FIRST <= mark <= PATH_MARK_LAST


@dataclass(frozen=True)
class PathCheck:
    """How one real server is checked through the forwarding path: a socket marked `mark`
    connects to `vip`:`port`, and the private service of that mark holds only `address`:`port`
    forwarded by `forward` (route or tunnel)."""

    ref: RealServerRef
    vip: str
    mark: int
    forward: str

    @property
    def address(self) -> str:
        return self.ref.address

    @property
    def port(self) -> int:
        return self.ref.port

    def failed_reason(self, why: str) -> str:
        """The health reason of a real server that answers on its own address but not through
        the VIP: what failed, and what to fix on it."""
        own = f"{_endpoint(self.address, self.port)}"
        via = f"VIP {_endpoint(self.vip, self.port)}"
        return (
            f"answers on {own} but not through {via} ({why}): {PATH_FIX[self.forward]} See Set up"
        )


def _endpoint(address: str, port: int) -> str:
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _ipv4(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    # IPv6 has no accept_local: a reply from the VIP cannot be taken in; not proven, not done.
    return ip.version == 4 and not ip.is_unspecified


def _loopback(address: str | None) -> bool:
    return ipaddress.ip_address(address or "0.0.0.0").is_loopback


def uses_sending_program(virtual: VirtualServer, kind: str | None) -> bool:
    """The check runs a program, which opens its own sockets: they carry no mark, so the path
    cannot be checked for it. `kind` is the built-in check's kind (Revision.checks)."""
    return virtual.check is None and (kind or "nanny") == "nanny" and bool(virtual.send_program)


def wants_path_check(config: LvsConfig, virtual: VirtualServer, kind: str | None = None) -> bool:
    """Whether this virtual server's real servers are checked through the path."""
    return (
        virtual.effective_active
        and config.effective_network in PATH_NETWORKS
        and virtual.effective_path_check
        and not uses_sending_program(virtual, kind)
        and _ipv4(virtual.address)
    )


def path_checks(
    config: LvsConfig, kinds: Mapping[str, str] | None = None
) -> dict[RealServerRef, PathCheck]:
    """The path check of every real server that gets one. `kinds` maps a virtual server's name
    to its built-in check's kind (a sending program is used only when it is "nanny")."""
    kinds = kinds or {}
    forward = PATH_NETWORKS.get(config.effective_network)
    if forward is None:
        return {}
    taken = {
        v.effective_fwmark for v in config.virtuals if v.effective_active and v.effective_fwmark
    }
    wanted: list[tuple[RealServerRef, str]] = []
    for virtual in config.virtuals:
        if not wants_path_check(config, virtual, kinds.get(virtual.name)):
            continue
        port = virtual.effective_port
        for server in virtual.servers:
            # A loopback real server is the director itself: no path leads out to it.
            if server.effective_active and _ipv4(server.address) and not _loopback(server.address):
                ref = RealServerRef(virtual.name, str(server.address), server.port or port)
                wanted.append((ref, str(virtual.address)))
    marks = _marks(sorted({(ref.address, ref.port) for ref, _vip in wanted}), forward, taken)
    return {
        ref: PathCheck(ref, vip, marks[(ref.address, ref.port)], forward)
        for ref, vip in wanted
        if (ref.address, ref.port) in marks
    }


def _marks(
    endpoints: list[tuple[str, int]], forward: str, taken: set[int]
) -> dict[tuple[str, int], int]:
    """A mark per real server endpoint: its hash's slot, or the next free one. Endpoints are
    placed in sorted order, so the same set always gets the same marks. Beyond the range's
    size the rest get none (and only their plain check)."""
    used = {mark - PATH_MARK_FIRST for mark in taken if is_path_mark(mark)}
    result: dict[tuple[str, int], int] = {}
    for address, port in endpoints:
        if len(used) >= PATH_MARK_COUNT:
            break
        slot = zlib.crc32(f"{address}:{port}/{forward}".encode()) % PATH_MARK_COUNT
        while slot in used:
            slot = (slot + 1) % PATH_MARK_COUNT
        used.add(slot)
        result[(address, port)] = PATH_MARK_FIRST + slot
    return result
