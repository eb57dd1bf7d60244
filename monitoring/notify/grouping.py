"""Storm grouping (pure, on an injected clock): events that come close together become one
message. A group is closed once `window` seconds pass without a new event, or `max_delay`
seconds after its first event however busy the storm, so a flapping server cannot hold every
message back for ever."""

from __future__ import annotations

from dataclasses import dataclass, field

from monitoring.notify.events import Event

DEFAULT_WINDOW = 2.0
DEFAULT_MAX_DELAY = 30.0


@dataclass
class Grouper:
    window: float = DEFAULT_WINDOW
    max_delay: float = DEFAULT_MAX_DELAY
    pending: list[Event] = field(default_factory=list)
    first: float = 0.0
    last: float = 0.0

    def add(self, event: Event, now: float) -> None:
        if not self.pending:
            self.first = now
        self.pending.append(event)
        self.last = now

    def deadline(self) -> float | None:
        """When the open group is due (None: nothing pending)."""
        if not self.pending:
            return None
        return min(self.last + self.window, self.first + max(self.max_delay, self.window))

    def take_due(self, now: float) -> list[Event]:
        """The group if it is due (in the order the changes happened), else nothing."""
        deadline = self.deadline()
        if deadline is None or now < deadline:
            return []
        return self.take()

    def take(self) -> list[Event]:
        group, self.pending = self.pending, []
        return group
