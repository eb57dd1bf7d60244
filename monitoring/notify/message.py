"""One message for a group of events: the webhook's JSON payload and the e-mail's text."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from monitoring.notify.events import Event, iso_time
from virtualservers.i18n import gettext_written as _
from virtualservers.i18n import ngettext_written as ngettext

# The e-mail's words are written in LVSADMIN_LANGUAGE (virtualservers.i18n); the webhook's JSON
# (keys and summary) stays English, for the programs that read it.

EMAIL_MAX_LINES = 200  # a storm of thousands lists the first ones, then says how many more


@dataclass(frozen=True)
class Message:
    events: tuple[Event, ...]
    director: str
    test: bool = False
    sent_at: float = field(default_factory=time.time)
    dropped: int = 0  # events lost because the notifier's queue was full

    def summary(self, translated: bool = False) -> str:
        """ "web/192.0.2.11:80 DOWN" for one event; counts by state for a group. English unless
        `translated` (the e-mail's subject and body)."""
        if self.test:
            return _("test message") if translated else "test message"
        if len(self.events) == 1:
            event = self.events[0]
            return f"{event.name} {event.state}"
        counts = Counter(f"{e.type.lower()} {e.state}" for e in self.events)
        number = len(self.events)
        if translated:
            head = ngettext("%(count)s change:", "%(count)s changes:", number)
            head = head % {"count": number}
        else:
            head = f"{number} changes:"
        return f"{head} " + ", ".join(f"{count} {what}" for what, count in sorted(counts.items()))

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
        return f"[lvsadmin {self.director}] {self.summary(translated=True)}"

    def body(self) -> str:
        if self.test:
            lines = [
                _("A test message from lvsadmin on %(director)s: this channel works.")
                % {"director": self.director}
            ]
        else:
            lines = [
                _("lvsadmin on %(director)s: %(summary)s")
                % {"director": self.director, "summary": self.summary(translated=True)},
                "",
            ]
            lines += [event.line() for event in self.events[:EMAIL_MAX_LINES]]
            if len(self.events) > EMAIL_MAX_LINES:
                more = len(self.events) - EMAIL_MAX_LINES
                lines.append(_("... and %(count)s more") % {"count": more})
        if self.dropped:
            lines.append(
                ngettext(
                    "(%(count)s change was lost: the notifier could not keep up)",
                    "(%(count)s changes were lost: the notifier could not keep up)",
                    self.dropped,
                )
                % {"count": self.dropped}
            )
        return "\n".join(lines) + "\n"
