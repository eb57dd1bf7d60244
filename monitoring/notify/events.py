"""What is notified: a real server's state change, a director's role change, an ARP conflict on
a VIP, a VIP announced or withdrawn by BGP, or a BGP session that comes up or goes down.

One event type for both, named as keepalived's notify scripts name them (TYPE NAME STATE), so
that a program written for keepalived reads ours without surprise. Real server states cover
health (UP, DOWN) and the operator's runtime states (DRAINED, MAINTENANCE, BACK: returned to
service); director states are VRRP's (MASTER, BACKUP, FAULT, STOP).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class EventType(StrEnum):
    REALSERVER = "REALSERVER"
    DIRECTOR = "DIRECTOR"
    TEST = "TEST"  # the "Send test message" button: a program should do nothing but succeed
    VIP = "VIP"  # the ARP guard: someone else answers ARP for a VIP (monitoring.arpguard)
    BGP = "BGP"  # a BGP session with a router (monitoring.bgp), named as BIRD names it


class ServerState(StrEnum):
    UP = "UP"
    DOWN = "DOWN"
    DRAINED = "DRAINED"
    MAINTENANCE = "MAINTENANCE"
    BACK = "BACK"


class DirectorState(StrEnum):
    MASTER = "MASTER"
    BACKUP = "BACKUP"
    FAULT = "FAULT"
    STOP = "STOP"


STATES: dict[EventType, frozenset[str]] = {
    EventType.REALSERVER: frozenset(ServerState),
    EventType.DIRECTOR: frozenset(DirectorState),
    EventType.TEST: frozenset({"TEST"}),
    # ANNOUNCED / WITHDRAWN: by BGP (monitoring.bgp.announce), the reason saying why.
    EventType.VIP: frozenset({"ARP_CONFLICT", "ARP_CLEAR", "ANNOUNCED", "WITHDRAWN"}),
    EventType.BGP: frozenset({"SESSION_UP", "SESSION_DOWN"}),
}


@dataclass(frozen=True)
class Event:
    """One change. `name` is what the notify program gets as its second argument: the real
    server as VIRTUAL/ADDRESS:PORT (an IPv6 address in brackets), or the director's name."""

    type: EventType
    name: str
    state: str
    previous: str = ""
    reason: str = ""
    at: float = field(default_factory=time.time)
    virtual: str = ""
    address: str = ""
    port: int | None = None

    def __post_init__(self) -> None:
        if self.state not in STATES[self.type]:
            allowed = ", ".join(sorted(STATES[self.type]))
            raise ValueError(f"{self.type} state {self.state!r} is not one of {allowed}")

    def as_dict(self) -> dict[str, object]:
        """The event as the webhook's `events` entries and the program's stdin carry it."""
        data: dict[str, object] = {
            "type": str(self.type),
            "name": self.name,
            "state": self.state,
            "previous": self.previous,
            "reason": self.reason,
            "at": iso_time(self.at),
        }
        if self.type is EventType.REALSERVER:
            data.update(virtual=self.virtual, address=self.address, port=self.port)
        return data

    def line(self) -> str:
        """One line of the e-mail body."""
        change = f"{self.previous} -> {self.state}" if self.previous else self.state
        reason = f" ({self.reason})" if self.reason else ""
        return f"{iso_time(self.at)}  {self.type} {self.name}: {change}{reason}"


def iso_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def server_name(virtual: str, address: str, port: int) -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{virtual}/{host}:{port}"


def realserver_event(
    virtual: str,
    address: str,
    port: int,
    state: ServerState | str,
    previous: ServerState | str = "",
    reason: str = "",
    at: float | None = None,
) -> Event:
    return Event(
        EventType.REALSERVER,
        server_name(virtual, address, port),
        str(state),
        str(previous),
        reason,
        time.time() if at is None else at,
        virtual,
        address,
        port,
    )


def director_event(
    name: str,
    state: DirectorState | str,
    previous: DirectorState | str = "",
    reason: str = "",
    at: float | None = None,
) -> Event:
    """A role change (VRRP). Whoever runs keepalived hands these to the same Notifier."""
    return Event(
        EventType.DIRECTOR,
        name,
        str(state),
        str(previous),
        reason,
        time.time() if at is None else at,
    )


def test_event(director: str) -> Event:
    return Event(EventType.TEST, director, "TEST", reason="test message")
