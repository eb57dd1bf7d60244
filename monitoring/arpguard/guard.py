"""Who may answer ARP for a VIP, and what the guard remembers between rounds.

The rule: this director's own interfaces and its peer (the other director, which holds the VIPs
when it is active) may answer; anyone else is a conflict. The owner of a foreign MAC is named
when the neighbour table maps one of the VIP's real servers to it, which is the usual case: the
director talks to its real servers, so their MACs are in its table."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass

# How often each VIP is asked: often enough to catch a real server that comes back from a
# reboot without its ARP settings within a minute, rarely enough to be noise on no network.
EVERY_SECONDS = 30.0


@dataclass(frozen=True)
class Target:
    """A VIP to guard and where to ask: the director's interface that carries it."""

    vip: str
    device: str
    real_servers: tuple[str, ...] = ()  # the addresses of its real servers, to name an owner


@dataclass(frozen=True)
class Conflict:
    vip: str
    device: str
    mac: str
    owner: str  # the real server whose address has this MAC, or "" (someone else)
    since: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def fix(self) -> str:
        """What the operator does about it, in one line."""
        who = f"real server {self.owner}" if self.owner else f"the host with MAC {self.mac}"
        return (
            f"VIP {self.vip} is answered by {who} ({self.mac}): clients may reach it directly, "
            "bypassing the director. Suppress ARP for the VIP there (its Set up: arp_ignore=1 "
            "and arp_announce=2, or the ARP rules), or remove the VIP from its interfaces."
        )


def base_device(device: str) -> str:
    """eth0:1 (an alias label, as lvs.cf writes it) -> eth0."""
    return device.split(":", 1)[0]


class ArpGuard:
    """Decides which VIPs are due and turns each round's answers into conflicts."""

    def __init__(self, clock: Callable[[], float], every: float = EVERY_SECONDS) -> None:
        self.clock = clock
        self.every = every
        self.asked: dict[str, float] = {}  # vip -> when last asked
        self.conflicts: dict[tuple[str, str], Conflict] = {}  # (vip, mac) -> conflict

    def due(self, targets: Iterable[Target]) -> list[Target]:
        now = self.clock()
        return [t for t in targets if now - self.asked.get(t.vip, -self.every) >= self.every]

    def record(
        self,
        asked: Iterable[Target],
        answers: Mapping[str, set[str]],
        allowed: set[str],
        neighbours: Mapping[str, str],
    ) -> tuple[list[Conflict], list[Conflict]]:
        """One round: `answers` maps each VIP asked to the MACs that answered; `allowed` holds
        this director's MACs and its peer's; `neighbours` maps addresses to MACs. Returns the
        conflicts that started and those that ended."""
        now = self.clock()
        started, ended = [], []
        for target in asked:
            self.asked[target.vip] = now
            foreign = {mac.lower() for mac in answers.get(target.vip, set())} - allowed
            for mac in sorted(foreign):
                if (target.vip, mac) not in self.conflicts:
                    owner = next(
                        (rip for rip in target.real_servers if neighbours.get(rip) == mac), ""
                    )
                    conflict = Conflict(target.vip, base_device(target.device), mac, owner, now)
                    self.conflicts[(target.vip, mac)] = conflict
                    started.append(conflict)
            for key in [k for k in self.conflicts if k[0] == target.vip and k[1] not in foreign]:
                ended.append(self.conflicts.pop(key))
        return started, ended

    def forget_except(self, vips: set[str]) -> list[Conflict]:
        """VIPs no longer configured: their conflicts end with them."""
        gone = [c for key, c in self.conflicts.items() if key[0] not in vips]
        for conflict in gone:
            del self.conflicts[(conflict.vip, conflict.mac)]
        for vip in [v for v in self.asked if v not in vips]:
            del self.asked[vip]
        return gone

    def current(self) -> list[Conflict]:
        return sorted(self.conflicts.values(), key=lambda c: (c.vip, c.mac))
