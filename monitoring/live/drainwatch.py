"""Tells when a drain is done: the first time the kernel shows a drained real server with no
connection left, `monitoring.live.states.drain_ready` is sent (once per drain), from the worker's
status thread, which reads the kernel's counters every few seconds anyway."""

from __future__ import annotations

import logging

from monitoring.ipvs.table import ServiceKey, Table
from monitoring.live.holds import Held, RuntimeState, is_ready
from monitoring.live.states import drain_ready
from virtualservers.lvsconf.model import RealServerRef

log = logging.getLogger("lvsadmin.worker")


class DrainWatch:
    def __init__(self) -> None:
        self.announced: set[RealServerRef] = set()

    def notice(self, table: Table | None, names: dict[ServiceKey, str], held: Held) -> list:
        """The drained real servers that became ready since the last call (and announce them)."""
        draining = {ref for ref, state in held.items() if state == RuntimeState.DRAIN}
        self.announced &= draining  # returned, or put in maintenance: a new drain tells again
        waiting = draining - self.announced
        if table is None or not waiting:
            return []
        lines = {
            (names[key], dest.address, dest.port): dest
            for key, entry in table.items()
            if key in names
            for dest in entry.destinations.values()
        }
        ready = []
        for ref in sorted(waiting, key=lambda r: (r.virtual, r.address, r.port)):
            dest = lines.get((ref.virtual, ref.address, ref.port))
            counts = (0, 0) if dest is None else (dest.active_conn, dest.inact_conn)
            weight = None if dest is None else dest.weight
            if is_ready(RuntimeState.DRAIN, dest is not None, weight, *counts):
                ready.append(ref)
        for ref in ready:
            self.announced.add(ref)
            log.info(
                "drained: %s:%s of %s has no connection left", ref.address, ref.port, ref.virtual
            )
            drain_ready.send(sender=DrainWatch, ref=ref)
        return ready
