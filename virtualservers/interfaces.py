"""The network interfaces of this director and their addresses.

Interface names (for validating what an operator types) are read from /sys/class/net; local
addresses (for the Host header check and for telling the peer director's address from this one's)
from /proc. No root, no netlink, no Django: the settings and the ARP guard's core both read them
here. A form takes the lookup as an argument so tests pass their own list; an unreadable directory
(not Linux) gives None, and nothing is refused then.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from pathlib import Path

SYS_CLASS_NET = Path("/sys/class/net")
FIB_TRIE = Path("/proc/net/fib_trie")
IF_INET6 = Path("/proc/net/if_inet6")
InterfaceLookup = Callable[[], "set[str] | None"]


def local_interfaces(root: Path = SYS_CLASS_NET) -> set[str] | None:
    try:
        return {entry.name for entry in root.iterdir()}
    except OSError:
        return None


def missing_interface(name: str, lookup: InterfaceLookup = local_interfaces) -> str | None:
    """The base device of ``name`` (eth0 for the alias eth0:1) when this director has no such
    interface; None when it has, or when the interfaces cannot be read."""
    known = lookup()
    base = name.split(":", 1)[0]
    if not known or base in known:
        return None
    return base


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text().splitlines()
    except OSError:
        return []


def local_ipv4_addresses(fib_trie: Path = FIB_TRIE) -> set[str]:
    """This host's IPv4 addresses: in /proc/net/fib_trie each is a `|-- ADDRESS` line followed by
    `/32 host LOCAL` (the same address also appears as a route's prefix, which this skips)."""
    found: set[str] = set()
    last = ""
    for line in _lines(fib_trie):
        line = line.strip()
        if line.startswith("|--"):
            last = line[3:].strip()
        elif line == "/32 host LOCAL" and last:
            found.add(last)
    return found


def local_ipv6_addresses(if_inet6: Path = IF_INET6) -> set[str]:
    """This host's IPv6 addresses: one line each in /proc/net/if_inet6, 32 hex digits first."""
    found: set[str] = set()
    for line in _lines(if_inet6):
        try:
            found.add(str(ipaddress.IPv6Address(int(line.split()[0], 16))))
        except (ValueError, IndexError):
            continue
    return found
