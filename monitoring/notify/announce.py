"""Changes the worker sees besides health transitions, turned into notifications: an operator's
drain, maintenance and return of a real server, a drain that has finished (no connection left),
this director's VRRP role, and in BGP mode its sessions and the VIPs it announces. Health
transitions go through `WorkerNotifications.changed`;
these go through `notify`, the same grouping and channels.

Each is noticed where the worker already looks (the control thread's poll reads the held states
and the role; the status thread finds finished drains), so nothing here reads anything itself."""

from __future__ import annotations

import time
from dataclasses import dataclass

from monitoring.live.holds import Held, RuntimeState
from monitoring.notify import conf
from monitoring.notify.events import (
    DirectorState,
    Event,
    EventType,
    ServerState,
    director_event,
    realserver_event,
)
from monitoring.redundancy.role import ROLE_ACTIVE, ROLE_FAULT, ROLE_STANDBY, DirectorRole
from virtualservers.lvsconf.model import RealServerRef

# keepalived's words for the roles, as its notify scripts get them.
DIRECTOR_STATES = {
    ROLE_ACTIVE: DirectorState.MASTER,
    ROLE_STANDBY: DirectorState.BACKUP,
    ROLE_FAULT: DirectorState.FAULT,
}
HELD_STATES = {
    RuntimeState.DRAIN: "DRAINING",
    RuntimeState.MAINTENANCE: ServerState.MAINTENANCE,
}


def held_events(before: Held, after: Held) -> list:
    """Events for the real servers whose held state changed: maintenance, and back (a server
    returned by its operator). Entering a drain is told when it is done (`drained_event`)."""
    events = []
    for ref in sorted(before.keys() | after.keys(), key=lambda r: (r.virtual, r.address, r.port)):
        old, new = before.get(ref), after.get(ref)
        if old == new:
            continue
        previous = str(HELD_STATES.get(old, "")) if old else ""
        if new == RuntimeState.MAINTENANCE:
            events.append(_server(ref, ServerState.MAINTENANCE, previous, "put in maintenance"))
        elif new is None:
            events.append(_server(ref, ServerState.BACK, previous, "returned by an operator"))
    return events


def drained_event(ref: RealServerRef):
    return _server(ref, ServerState.DRAINED, "DRAINING", "drained: no connection left")


def role_event(before: DirectorRole | None, after: DirectorRole):
    """The event for a role change, or None (no change, or a role keepalived does not name)."""
    if before is not None and before.role == after.role:
        return None
    state = DIRECTOR_STATES.get(after.role)
    if state is None or before is None:  # the first look at the role is not a change
        return None
    previous = DIRECTOR_STATES.get(before.role, "")
    name = conf.notify().director_name
    return director_event(name, state, previous=previous, reason=after.reason)


def _server(ref: RealServerRef, state: ServerState, previous: str, reason: str):
    return realserver_event(ref.virtual, ref.address, ref.port, state, previous, reason)


@dataclass(frozen=True)
class BgpSeen:
    """What the BGP step last showed, as plain values (notify does not load monitoring.bgp's
    worker side): each session's BGP state ("Established", "Active", ...) and each VIP's reason
    for being withdrawn ("" while announced)."""

    sessions: dict[str, str]
    vips: dict[str, str]


def bgp_events(before: BgpSeen | None, after: BgpSeen, at: float | None = None) -> list[Event]:
    """A session that became Established or left it, a VIP announced or withdrawn (with why).
    The first look is not a change (a worker that starts says nothing about what it found)."""
    if before is None:
        return []
    at = time.time() if at is None else at
    events = []
    for name in sorted(before.sessions.keys() | after.sessions.keys()):
        old, new = before.sessions.get(name, ""), after.sessions.get(name, "")
        was, now = old.startswith("Established"), new.startswith("Established")
        if was != now:
            state, previous = (
                ("SESSION_UP", "SESSION_DOWN") if now else ("SESSION_DOWN", "SESSION_UP")
            )
            events.append(Event(EventType.BGP, name, state, previous, new or "removed", at))
    for vip in sorted(before.vips.keys() | after.vips.keys()):
        old, new = before.vips.get(vip), after.vips.get(vip)
        if new == "" and old != "":
            previous = "WITHDRAWN" if old else ""
            events.append(Event(EventType.VIP, vip, "ANNOUNCED", previous, "", at))
        elif old == "" and new:
            events.append(Event(EventType.VIP, vip, "WITHDRAWN", "ANNOUNCED", new, at))
        # Otherwise unchanged, gone from lvs.cf, or withdrawn still (another reason, or new).
    return events
