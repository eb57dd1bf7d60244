"""One message for a group of events: the webhook's JSON payload and the e-mail's text."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from monitoring.notify.events import Event, iso_time

EMAIL_MAX_LINES = 200  # a storm of thousands lists the first ones, then says how many more


@dataclass(frozen=True)
class Message:
    events: tuple[Event, ...]
    director: str
    test: bool = False
    sent_at: float = field(default_factory=time.time)
    dropped: int = 0  # events lost because the notifier's queue was full

    def summary(self) -> str:
        """ "web/192.0.2.11:80 DOWN" for one event; counts by state for a group."""
        if self.test:
            return "test message"
        if len(self.events) == 1:
            event = self.events[0]
            return f"{event.name} {event.state}"
        counts = Counter(f"{e.type.lower()} {e.state}" for e in self.events)
        return f"{len(self.events)} changes: " + ", ".join(
            f"{count} {what}" for what, count in sorted(counts.items())
        )

    def payload(self) -> dict[str, object]:
        """The webhook's JSON body (documented in the README, "Notifications")."""
        return {
            "source": "lvsadmin",
            "director": self.director,
            "test": self.test,
            "sent_at": iso_time(self.sent_at),
            "summary": self.summary(),
            "count": len(self.events),
            "dropped": self.dropped,
            "events": [event.as_dict() for event in self.events],
        }

    def subject(self) -> str:
        return f"[lvsadmin {self.director}] {self.summary()}"

    def body(self) -> str:
        if self.test:
            lines = [f"A test message from lvsadmin on {self.director}: this channel works."]
        else:
            lines = [f"lvsadmin on {self.director}: {self.summary()}", ""]
            lines += [event.line() for event in self.events[:EMAIL_MAX_LINES]]
            if len(self.events) > EMAIL_MAX_LINES:
                lines.append(f"... and {len(self.events) - EMAIL_MAX_LINES} more")
        if self.dropped:
            lines.append(f"({self.dropped} changes were lost: the notifier could not keep up)")
        return "\n".join(lines) + "\n"
