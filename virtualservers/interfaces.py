"""The network interfaces of this director, for validating the interface names an operator types.

Read from /sys/class/net (no root, no netlink). A form takes the lookup as an argument so tests
pass their own list; an unreadable directory (not Linux) gives None, and nothing is refused then.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

SYS_CLASS_NET = Path("/sys/class/net")
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
