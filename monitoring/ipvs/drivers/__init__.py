"""IPVS drivers, chosen by a setting like Django's EMAIL_BACKEND: "netlink" for the real kernel
(monitoring.ipvs.drivers.kernel, imported only when asked for, so the web process never loads it nor
pyroute2) and "memory", an in-process table (monitoring.ipvs.drivers.memory).

The only module that knows every driver; no driver imports it (they share monitoring.ipvs.drivers.base).
"""

from __future__ import annotations

from monitoring.ipvs.drivers.base import Driver
from monitoring.ipvs.drivers.memory import MemoryDriver

_MEMORY_SINGLETON: MemoryDriver | None = None


def get_driver(name: str) -> Driver:
    """The driver a setting (LVSADMIN_IPVS_DRIVER) names; the callers read the setting, so this
    package stays Django-free. "memory" is one shared table per process (like locmem)."""
    global _MEMORY_SINGLETON
    if name == "memory":
        if _MEMORY_SINGLETON is None:
            _MEMORY_SINGLETON = MemoryDriver()
        return _MEMORY_SINGLETON
    if name == "netlink":
        from monitoring.ipvs.drivers.kernel import NetlinkDriver

        return NetlinkDriver()
    raise ValueError(f"unknown IPVS driver {name!r} (netlink or memory)")
