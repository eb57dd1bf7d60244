"""Every real server's load weight: what the last reading made of it, and why. Plain data, an
injected clock; the worker records readings on its event loop and the one writer asks for the
weights on its control thread, so a lock keeps the two apart (as checks.slowstart does).

- `uptime` and `mysql`: nanny's formula (formula.py) from the configured weight, starting at it;
  a reading while slow start ramps the server in changes nothing (the ramp owns the weight until
  it reaches the configured one), and a server that leaves the table starts again from its
  configured weight when it comes back.
- `agent`: the agent's `N%` is the weight; `drain`/`maint` hold the server (held()); `down`
  keeps it out whatever its check says (down()); a failed agent read changes nothing but is
  shown, as HAProxy keeps the last weight when its agent is unreachable.

weights() holds only the servers whose load weight differs from the configured one, the same
shape as slow start's weights: the desired table overrides the configured weight with it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from monitoring.live.holds import Held, RuntimeState
from monitoring.loadweights.agent import AgentReply, agent_weight
from monitoring.loadweights.formula import DEFAULT_SCALE, next_weight
from virtualservers.lvsconf.model import LvsConfig, RealServerRef

ACTIVE_MONITORS = ("uptime", "mysql", "agent")
DEFAULT_AGENT_INTERVAL = 2  # seconds (HAProxy's agent-inter default)


@dataclass
class LoadState:
    monitor: str  # uptime, mysql or agent
    configured: int
    current: int
    why: str = ""
    since: float = 0.0  # when `current` was last changed
    agent_admin: str | None = None  # drain or maint, held by the agent
    agent_down: str | None = None  # the agent's reason while it says down
    load: float | None = None  # the last load figure read (uptime, mysql)


@dataclass(frozen=True)
class Target:
    """What the configuration says of one real server's load monitoring."""

    monitor: str
    configured: int
    interval: float  # seconds between reads (agent: agent_inter; others: the check's timeout)
    port: int | None = None  # the agent's port
    scale: int = DEFAULT_SCALE


def targets(config: LvsConfig) -> dict[RealServerRef, Target]:
    """The real servers whose weights follow load, from the enforced configuration."""
    found: dict[RealServerRef, Target] = {}
    for virtual in config.virtuals:
        monitor = virtual.load_monitor or "none"
        if not virtual.effective_active or monitor not in ACTIVE_MONITORS:
            continue
        if monitor == "agent" and not virtual.agent_port:
            continue
        interval = float(
            virtual.agent_inter or DEFAULT_AGENT_INTERVAL
            if monitor == "agent"
            else max(1, virtual.effective_timeout)
        )
        port = virtual.effective_port
        for server in virtual.servers:
            if server.effective_active:
                ref = RealServerRef(virtual.name, server.address or "0.0.0.0", server.port or port)
                found[ref] = Target(monitor, server.effective_weight, interval, virtual.agent_port)
    return found


@dataclass
class LoadBook:
    clock: Callable[[], float]
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _states: dict[RealServerRef, LoadState] = field(default_factory=dict)
    _targets: dict[RealServerRef, Target] = field(default_factory=dict)

    def sync(self, config: LvsConfig) -> dict[RealServerRef, Target]:
        """A configuration is enforced: servers whose monitor or weight changed start again
        from their configured weight; the others keep what the load made of them."""
        found = targets(config)
        with self._lock:
            for ref, target in found.items():
                state = self._states.get(ref)
                if (
                    state is None
                    or state.monitor != target.monitor
                    or state.configured != target.configured
                ):
                    self._states[ref] = LoadState(
                        target.monitor, target.configured, target.configured, since=self.clock()
                    )
            for ref in list(self._states):
                if ref not in found:
                    del self._states[ref]
            self._targets = found
        return found

    def target(self, ref: RealServerRef) -> Target | None:
        return self._targets.get(ref)

    def reset(self, ref: RealServerRef) -> None:
        """The server entered or left the table: its next stay starts from the configured
        weight (slow start ramps it there first)."""
        with self._lock:
            state = self._states.get(ref)
            if state is not None and state.monitor != "agent":
                state.current, state.why, state.since = state.configured, "", self.clock()

    def record_load(
        self, ref: RealServerRef, load: float | None, what: str, ramping: bool = False
    ) -> int | None:
        """A load reading (uptime, mysql). `what` says where it came from, for the why column.
        Returns the new weight when it changed."""
        now = self.clock()
        with self._lock:
            state = self._states.get(ref)
            target = self._targets.get(ref)
            if state is None or target is None or state.monitor == "agent":
                return None
            if load is None:
                state.why = what  # the read failed: the weight stays, the reason shows
                return None
            state.load = load
            if ramping:
                state.why = f"load {load:.2f} ({what}); slow start ramping, weight left to it"
                return None
            new = next_weight(state.current, state.configured, load, target.scale)
            verb = "no change (less than a quarter of the weight)"
            if new is not None:
                verb = "raised" if new > state.current else "lowered"
                state.current, state.since = new, now
            state.why = f"load {load:.2f} ({what}): {verb}"
            return new

    def record_agent(self, ref: RealServerRef, reply: AgentReply) -> bool:
        """An agent's answer; True when it changed the weight, a hold or the down state."""
        now = self.clock()
        with self._lock:
            state = self._states.get(ref)
            if state is None or state.monitor != "agent":
                return False
            if not reply.understood:
                state.why = reply.error
                return False
            before = (state.current, state.agent_admin, state.agent_down)
            if reply.percent is not None:
                state.current = agent_weight(state.configured, reply.percent)
            if reply.admin == "ready":
                state.agent_admin = None
            elif reply.admin is not None:
                state.agent_admin = reply.admin
            if reply.health == "down":
                state.agent_down = reply.reason or "the agent says down"
            elif reply.health == "up":
                state.agent_down = None
            words = []
            if reply.percent is not None:
                words.append(f"{reply.percent}%")
            words += [w for w in (reply.admin, reply.health) if w]
            state.why = "agent: " + " ".join(words)
            changed = before != (state.current, state.agent_admin, state.agent_down)
            if changed:
                state.since = now
            return changed

    def weights(self) -> dict[RealServerRef, int]:
        """The load weight of every server whose load moved it off its configured weight."""
        with self._lock:
            return {
                ref: state.current
                for ref, state in self._states.items()
                if state.current != state.configured
            }

    def held(self) -> Held:
        """The agents' drain and maintenance."""
        with self._lock:
            return {
                ref: RuntimeState.DRAIN
                if state.agent_admin == "drain"
                else RuntimeState.MAINTENANCE
                for ref, state in self._states.items()
                if state.agent_admin is not None
            }

    def down(self) -> frozenset[RealServerRef]:
        """The servers whose agent says down."""
        with self._lock:
            return frozenset(ref for ref, state in self._states.items() if state.agent_down)

    def rows(self) -> list[dict]:
        """For CONTROL and /metrics: one row per monitored real server."""
        with self._lock:
            return [
                {
                    "virtual": ref.virtual,
                    "address": ref.address,
                    "port": ref.port,
                    "monitor": state.monitor,
                    "configured": state.configured,
                    "load_weight": state.current,
                    "load": state.load,
                    "held": state.agent_admin,
                    "down": state.agent_down,
                    "why": state.why,
                    "since": state.since,
                }
                for ref, state in self._states.items()
            ]
