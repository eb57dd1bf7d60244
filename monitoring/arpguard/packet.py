"""Asking the network: ARP probes out of a raw packet socket, replies collected for a moment.

Needs CAP_NET_RAW (the worker runs as root). IPv4 only: IPv6 has no ARP, and its neighbour
discovery is not guarded yet."""

from __future__ import annotations

import os
import select
import socket
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from monitoring.arpguard.frames import ETH_P_ARP, mac_bytes, probe, reply_of
from virtualservers.interfaces import local_ipv4_addresses

SYS_NET = Path("/sys/class/net")
PROC_ARP = Path("/proc/net/arp")


def interface_mac(device: str) -> str:
    return (SYS_NET / device / "address").read_text().strip().lower()


def own_macs() -> set[str]:
    """Every MAC of this host's interfaces (a VIP held here is answered by one of them)."""
    macs = set()
    for path in SYS_NET.glob("*/address"):
        try:
            macs.add(path.read_text().strip().lower())
        except OSError:
            continue
    return macs - {"00:00:00:00:00:00", ""}


def neighbours() -> dict[str, str]:
    """The kernel's IPv4 neighbour table: address -> MAC (complete entries only)."""
    table = {}
    try:
        lines = PROC_ARP.read_text().splitlines()[1:]
    except OSError:
        return table
    for line in lines:
        fields = line.split()
        if len(fields) >= 4 and fields[2] != "0x0":  # flags 0x0: incomplete
            table[fields[0]] = fields[3].lower()
    return table


def ask(device: str, targets: Iterable[str], wait: float = 0.5) -> dict[str, set[str]]:
    """Probe every target address on `device` and collect, for `wait` seconds, which MACs
    answer for each. OSError when the socket cannot be opened (no privilege, no device)."""
    wanted = set(targets)
    answers: dict[str, set[str]] = defaultdict(set)
    if not wanted:
        return answers
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    try:
        sock.bind((device, 0))
        source = mac_bytes(interface_mac(device))
        for target in sorted(wanted):
            sock.send(probe(source, target))
        deadline = time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                break
            try:
                frame = sock.recv(2048)
            except BlockingIOError:
                continue
            reply = reply_of(frame)
            if reply is not None and reply[0] in wanted:
                answers[reply[0]].add(reply[1])
    finally:
        sock.close()
    return answers


def local_addresses() -> set[str]:
    """This host's IPv4 addresses: to tell the peer director's address from this one's."""
    return local_ipv4_addresses()


def can_ask() -> bool:
    """Whether this process may open a raw packet socket (root, or CAP_NET_RAW)."""
    return os.geteuid() == 0
