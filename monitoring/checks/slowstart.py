"""nanny's slow start, on plain data and an injected clock.

When a real server enters the table (it came back after failing, it was activated, or a
published configuration added it) its weight starts at weight/32, at least 1, and doubles every
step (nanny: about 20 s) until it reaches the configured weight: 100 gives 3, 6, 12, 24, 48, 96,
100. A new server is not flooded with the connections its weight would win at once from a
scheduler such as wlc, which sees it with none. A virtual server with `slow_start = 0` puts its
servers in at full weight. The worker's first configuration starts no ramp: restarting the
worker must not change any weight in a table that is already serving.

The worker tells this module what happens (sync, entered, left) on its event loop, and the one
writer asks for the weights on its control thread: a lock keeps the two apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from virtualservers.lvsconf.model import LvsConfig, RealServerRef

DEFAULT_STEP_SECONDS = 20.0
FIRST_DIVISOR = 32
# Enough doublings for any IPVS weight (65535 from 1 takes 16).
MAX_DOUBLINGS = 17


def ramp_weight(weight: int, elapsed: float, step: float) -> int:
    """The weight `elapsed` seconds after the server entered."""
    if weight <= 1:
        return weight
    doublings = int(max(0.0, elapsed) // step) if step > 0 else MAX_DOUBLINGS
    return min(weight, max(1, weight // FIRST_DIVISOR) << min(doublings, MAX_DOUBLINGS))


def ramp(weight: int) -> list[int]:
    """Every weight a ramp goes through, the configured one last."""
    weights, elapsed = [], 0
    while not weights or weights[-1] < weight:
        weights.append(ramp_weight(weight, elapsed, 1))
        elapsed += 1
    return weights


class SlowStart:
    """Which real servers are ramping in, since when, towards which weight."""

    def __init__(self, clock: Callable[[], float], step: float = DEFAULT_STEP_SECONDS) -> None:
        self.clock = clock
        self.step = step
        self._lock = threading.Lock()
        self._synced = False
        # Every active real server and its configured weight, None where slow start is off.
        self._target: dict[RealServerRef, int | None] = {}
        self._entered: dict[RealServerRef, float] = {}

    def sync(
        self,
        config: LvsConfig,
        same_ref: Callable[[RealServerRef], RealServerRef] = lambda ref: ref,
    ) -> None:
        """A configuration is enforced: servers it adds start their ramp (not on the first
        one), servers it removes are forgotten, weights follow it. `same_ref`: the equal ref
        another map already holds (HealthBook.same_ref), kept instead of one more object per
        real server (0.56 MB at 10,000, bench_worker.py)."""
        target: dict[RealServerRef, int | None] = {}
        for virtual in config.virtuals:
            if not virtual.effective_active:
                continue
            port = virtual.effective_port
            for server in virtual.servers:
                if server.effective_active:
                    ref = same_ref(
                        RealServerRef(
                            virtual.name, server.address or "0.0.0.0", server.port or port
                        )
                    )
                    on = virtual.effective_slow_start
                    target[ref] = server.effective_weight if on else None
        now = self.clock()
        with self._lock:
            if self._synced:
                for ref in target.keys() - self._target.keys():
                    self._entered[ref] = now
            self._synced = True
            self._target = target
            for ref in list(self._entered):
                if target.get(ref) is None:
                    del self._entered[ref]

    def entered(self, ref: RealServerRef) -> None:
        """Health brought `ref` back into the table."""
        with self._lock:
            if self._target.get(ref) is not None:
                self._entered[ref] = self.clock()

    def left(self, ref: RealServerRef) -> None:
        """Health took `ref` out: a ramp under way stops."""
        with self._lock:
            self._entered.pop(ref, None)

    def weights(self, now: float | None = None) -> dict[RealServerRef, int]:
        """The weight of every server still ramping; a server whose ramp is over is dropped."""
        now = self.clock() if now is None else now
        result: dict[RealServerRef, int] = {}
        with self._lock:
            for ref, since in list(self._entered.items()):
                target = self._target.get(ref)
                weight = 0 if target is None else ramp_weight(target, now - since, self.step)
                if target is None or weight >= target:
                    del self._entered[ref]
                else:
                    result[ref] = weight
        return result
