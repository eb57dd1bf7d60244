"""Per-real-server health with nanny's state machine, on an injected clock (pure; no I/O).

A server starts UP (nanny's success counter starts at the threshold). `fall` consecutive failed
checks take it DOWN (nanny: one). It comes back after `rise` consecutive successes (nanny:
max(1, reentry // timeout), the default when the virtual sets no `rise`). The interval is the
virtual's timeout. First checks are spread evenly over one interval, in lvs.cf's order, so that
thousands of servers do not all start at once. Quiesce (weight 0) and the sorry server are decided by desired_state from the
set of down servers this exposes.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from monitoring.checks.probes import CheckSpec, ProbeResult, spec_for
from virtualservers.lvsconf.model import LvsConfig, RealServerRef
from virtualservers.lvsconf.paths import PathCheck


@dataclass(slots=True)  # 10,000 of them at scale: no __dict__ each (0.6 MB of 2.8)
class ServerHealth:
    ref: RealServerRef
    spec: CheckSpec
    threshold: int  # consecutive successes needed to come back (rise)
    fall: int = 1  # consecutive failures needed to go out
    up: bool = True
    successes: int = 0
    failures: int = 0
    since: float = 0.0
    last_check: float | None = None
    latency: float | None = None
    reason: str = ""
    next_due: float = 0.0
    running: bool = False
    # Also checked through the forwarding path (lvsconf.paths), or only at its own address.
    path: PathCheck | None = None
    # Real servers of other virtual servers with the same address, port and check share one
    # check per interval: the first (the leader) is checked, the others (its followers) get its
    # result. leader: None for a server checked itself.
    leader: RealServerRef | None = None
    followers: tuple[RealServerRef, ...] = ()  # a tuple: 10,000 empty lists were 0.5 MB
    # Checked on a schedule kept elsewhere (the connect scanner's, see hand_over): the book
    # records what it is told and does not schedule the server itself.
    scanned: bool = False


@dataclass(frozen=True)
class Transition:
    ref: RealServerRef
    up: bool
    reason: str

    def message(self) -> str:
        # Named with its virtual server: the same address and port serve under many virtuals,
        # and 1,000 identical "shutting down 127.0.0.1:21004" lines said not which.
        target = f"{self.ref.address}:{self.ref.port} of {self.ref.virtual}"
        if self.up:
            return f"[ active ] making {target} available"
        return f"[inactive] shutting down {target} due to {self.reason}"


@dataclass
class HealthBook:
    clock: Callable[[], float]
    servers: dict[RealServerRef, ServerHealth] = field(default_factory=dict)
    # (next_due, tie-breaker, ref): finding due checks costs O(due), not O(servers), per tick.
    _queue: list[tuple[float, int, RealServerRef]] = field(default_factory=list)
    _seq: itertools.count = field(default_factory=itertools.count)
    # Kept up to date on transitions: the worker asks for it many times a second.
    _down: set[RealServerRef] = field(default_factory=set)
    # Moves on each sync() that adds or removes a server: which servers there are is unchanged
    # while it stays (the status writer then skips looking for health rows of servers gone).
    members: int = 0

    def _schedule(self, server: ServerHealth) -> None:
        heapq.heappush(self._queue, (server.next_due, next(self._seq), server.ref))

    def sync(
        self,
        config: LvsConfig,
        checks: dict | None = None,
        paths: dict[RealServerRef, PathCheck] | None = None,
    ) -> None:
        """Check every active real server of every active virtual (through the forwarding
        path too, for those in `paths`); keep the state of servers that stay, forget the ones
        that left."""
        now = self.clock()
        checks = checks or {}
        paths = paths or {}
        wanted: dict[RealServerRef, tuple[CheckSpec, int, int]] = {}
        for virtual in config.virtuals:
            if not virtual.effective_active:
                continue
            spec = spec_for(virtual, checks.get(virtual.name))
            threshold, fall = virtual.effective_rise, virtual.effective_fall
            port = virtual.effective_port
            for server in virtual.servers:
                if server.effective_active:
                    ref = RealServerRef(
                        virtual.name, server.address or "0.0.0.0", server.port or port
                    )
                    wanted[ref] = (spec, threshold, fall)
        if wanted.keys() != self.servers.keys():
            self.members += 1
        for ref in list(self.servers):
            if ref not in wanted:
                del self.servers[ref]
                self._down.discard(ref)
        for position, (ref, (spec, threshold, fall)) in enumerate(wanted.items()):
            current = self.servers.get(ref)
            if current is None:
                # First checks spread evenly over one interval in lvs.cf's order, as HAProxy
                # staggers its servers: every slot of the scanner's wheel gets the same share (a
                # hash of the address put 33 to 75 checks in 10 ms slots averaging 50, at 10,000
                # every 2 s), and a server keeps its spot while its place in lvs.cf does.
                offset = position / len(wanted) * spec.timeout
                server = ServerHealth(ref, spec, threshold, fall, since=now, next_due=now + offset)
                server.path = paths.get(ref)
                self.servers[ref] = server
                self._schedule(server)
            else:
                path = paths.get(ref)
                if (current.spec != spec or current.path != path) and not current.running:
                    current.next_due = min(current.next_due, now)
                    self._schedule(current)
                current.spec, current.threshold, current.fall = spec, threshold, fall
                current.path = path
        self._share(wanted, paths)

    def _share(
        self,
        wanted: dict[RealServerRef, tuple[CheckSpec, int, int]],
        paths: dict[RealServerRef, PathCheck],
    ) -> None:
        """One check per (address, port, check, path) whichever virtual servers hold it: the
        first real server that is checked itself stays the leader (its schedule goes on)."""
        groups: dict[tuple, list[RealServerRef]] = {}
        for ref, (spec, _threshold, _fall) in wanted.items():
            groups.setdefault((ref.address, ref.port, spec, paths.get(ref)), []).append(ref)
        for refs in groups.values():
            leader = next((r for r in refs if self.servers[r].leader is None), refs[0])
            head = self.servers[leader]
            if head.leader is not None:  # its leader left: it is checked itself from now on
                head.leader = None
                self._schedule(head)
            head.followers = tuple(r for r in refs if r != leader)
            for ref in head.followers:
                follower = self.servers[ref]
                follower.leader, follower.followers = leader, ()

    def due(self, now: float | None = None) -> list[ServerHealth]:
        """Servers whose check is due; each is returned once per scheduled check."""
        now = self.clock() if now is None else now
        result = []
        queue = self._queue
        while queue and queue[0][0] <= now:
            when, _seq, ref = heapq.heappop(queue)
            server = self.servers.get(ref)
            # Stale entries (server removed, rescheduled, already running, or now following
            # another server's check) are skipped.
            if (
                server is None
                or server.running
                or server.next_due != when
                or server.leader is not None
                or server.scanned
            ):
                continue
            result.append(server)
        return result

    def hand_over(self, refs: set[RealServerRef]) -> None:
        """From now on the checks of `refs` run on a schedule kept elsewhere (the connect
        scanner's); the book schedules every other server again, those it takes back at once."""
        now = self.clock()
        for ref, server in self.servers.items():
            scanned = ref in refs
            if server.scanned and not scanned:
                server.next_due, server.running = now, False
                self._schedule(server)
            server.scanned = scanned

    def reschedule_all(self, when: float) -> None:
        for server in self.servers.values():
            server.next_due = when
            self._schedule(server)

    def record_shared(
        self, ref: RealServerRef, result: ProbeResult, started: float
    ) -> list[Transition]:
        """A check's result, recorded for its server and every server that follows it."""
        return [t for r in self.sharers(ref) if (t := self.record(r, result, started)) is not None]

    def same_ref(self, ref: RealServerRef) -> RealServerRef:
        """The book's own object for a ref equal to `ref` (`ref` itself when not in the book)."""
        server = self.servers.get(ref)
        return ref if server is None else server.ref

    def sharers(self, ref: RealServerRef) -> list[RealServerRef]:
        """The real servers one check of `ref` stands for: itself and its followers."""
        server = self.servers.get(ref)
        return [ref, *(server.followers if server is not None else ())]

    def record(self, ref: RealServerRef, result: ProbeResult, started: float) -> Transition | None:
        server = self.servers.get(ref)
        if server is None:  # removed from the configuration while its check ran
            return None
        now = self._checked(server, result.latency, started)
        if result.ok:
            server.reason = ""
            server.failures = 0
            if server.up:
                return None
            server.successes += 1
            if server.successes >= server.threshold:
                server.up, server.since, server.successes = True, now, 0
                self._down.discard(ref)
                return Transition(ref, True, "")
            return None
        server.reason = result.reason
        server.successes = 0
        server.failures += 1
        if server.up and server.failures >= server.fall:
            server.up, server.since = False, now
            self._down.add(ref)
            return Transition(ref, False, result.reason)
        return None

    def record_passed(self, server: ServerHealth, result: ProbeResult, started: float) -> bool:
        """The check of nearly every round, recorded with the least work: `result` passed for
        `server`, which is up and stands for no other server. False (nothing recorded) when it
        is not that case: record_shared() it. Nothing to return: nothing changes state."""
        if (
            not result.ok
            or not server.up
            or server.followers
            or self.servers.get(server.ref) is not server  # removed while its check ran
        ):
            return False
        self._checked(server, result.latency, started)
        server.reason, server.failures = "", 0
        return True

    def _checked(self, server: ServerHealth, latency: float, started: float) -> float:
        """A check of `server` ended now (returned): it is due again one interval after it was
        due, not after it ended."""
        now = self.clock()
        server.running = False
        server.last_check = now
        server.latency = latency
        server.next_due = max(started + server.spec.timeout, now)
        if server.leader is None and not server.scanned:  # a follower is not checked itself
            self._schedule(server)
        return now

    def down(self) -> frozenset[RealServerRef]:
        return frozenset(self._down)

    def states(self) -> Iterable[ServerHealth]:
        return self.servers.values()
