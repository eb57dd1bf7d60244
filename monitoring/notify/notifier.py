"""The entry point: `Notifier.notify(event)` from any thread, never blocking.

Events go into a bounded inbox (a deque: appending costs the caller about a microsecond, and an
event may be given as a function that builds it, so even that work leaves the caller's thread);
the notifier's thread groups them (grouping.Grouper) and hands
each group, as one Message, to every channel's own thread (each with a bounded queue of its
own), so a webhook that never answers delays neither the checks nor the e-mail. When a queue is
full the newest work is dropped and counted: the next message says how many changes were lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from monitoring.notify.channels import Channel, DeliveryError
from monitoring.notify.events import Event
from monitoring.notify.grouping import DEFAULT_MAX_DELAY, DEFAULT_WINDOW, Grouper
from monitoring.notify.message import Message

log = logging.getLogger("lvsadmin.notify")
EVENT_QUEUE = 100_000  # a whole table going down at 10,000 x 10 still fits
MESSAGE_QUEUE = 20  # groups waiting for one slow channel


@dataclass(frozen=True)
class Outcome:
    """What one channel did with one message."""

    channel: str
    ok: bool
    detail: str


def deliver_now(channels: Sequence[Channel], message: Message) -> list[Outcome]:
    """Every channel in turn, here and now (the test button; a command outside the worker)."""
    outcomes = []
    for channel in channels:
        try:
            outcomes.append(Outcome(channel.name, True, channel.deliver(message)))
        except DeliveryError as exc:
            outcomes.append(Outcome(channel.name, False, str(exc)))
        except Exception as exc:  # a bug in a channel must not hide the others' results
            log.exception("notification channel %s raised", channel.name)
            outcomes.append(Outcome(channel.name, False, f"{type(exc).__name__}: {exc}"))
    return outcomes


def deliver_concurrently(
    channels: Sequence[Channel], message: Message, deadline: float
) -> list[Outcome]:
    """Every channel at once, each result within `deadline` seconds whatever the slowest does
    (the test button: a web request must answer before the server gives up on it)."""
    results: dict[int, Outcome] = {}

    def one(index: int, channel: Channel) -> None:
        results[index] = deliver_now([channel], message)[0]

    threads = [
        threading.Thread(target=one, args=(i, c), name=f"lvsadmin-test-{c.name}", daemon=True)
        for i, c in enumerate(channels)
    ]
    end = time.monotonic() + deadline
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    return [
        results.get(i, Outcome(c.name, False, f"no result within {deadline:g} s"))
        for i, c in enumerate(channels)
    ]


class ChannelThread:
    """One channel's deliveries, one at a time, in order, off everyone else's path."""

    def __init__(self, channel: Channel, on_outcome: Callable[[Outcome], None]) -> None:
        self.channel = channel
        self.on_outcome = on_outcome
        self.queue: queue.Queue[Message | None] = queue.Queue(MESSAGE_QUEUE)
        self.thread = threading.Thread(
            target=self._run, name=f"lvsadmin-notify-{channel.name}", daemon=True
        )
        self.thread.start()

    def submit(self, message: Message) -> bool:
        try:
            self.queue.put_nowait(message)
            return True
        except queue.Full:
            log.warning(
                "notification %s: %d messages wait already; dropped one",
                self.channel.name,
                MESSAGE_QUEUE,
            )
            return False

    def close(self) -> None:
        stop = getattr(self.channel, "stop", None)
        if isinstance(stop, threading.Event):
            stop.set()  # a webhook's back-off wait ends now
        try:
            self.queue.put_nowait(None)
        except queue.Full:
            pass  # daemon thread: it ends with the process

    def _run(self) -> None:
        while (message := self.queue.get()) is not None:
            (outcome,) = deliver_now([self.channel], message)
            if outcome.ok:
                log.info(
                    "notification sent by %s: %s (%s)",
                    outcome.channel,
                    message.summary(),
                    outcome.detail,
                )
            else:
                log.error(
                    "notification by %s failed: %s (%s)",
                    outcome.channel,
                    outcome.detail,
                    message.summary(),
                )
            self.on_outcome(outcome)


class Notifier:
    """Groups events and delivers them through the configured channels (none: events are
    dropped at once, so a director without notifications pays one comparison per change)."""

    def __init__(
        self,
        director: str,
        clock: Callable[[], float] = time.monotonic,
        queue_size: int = EVENT_QUEUE,
    ) -> None:
        self.director = director
        self.clock = clock
        self.inbox: deque[Event | Callable[[], Event] | None] = deque()
        self.queue_size = queue_size
        self.wake = threading.Event()
        self.grouper = Grouper()
        self.channels: list[ChannelThread] = []
        self.lock = threading.Lock()
        self.dropped = 0
        self.outcomes: list[Outcome] = []  # the latest few, for whoever wants to show them
        self.thread: threading.Thread | None = None
        self.closed = False

    @property
    def enabled(self) -> bool:
        return bool(self.channels)

    def configure(
        self,
        channels: Sequence[Channel],
        window: float = DEFAULT_WINDOW,
        max_delay: float = DEFAULT_MAX_DELAY,
    ) -> None:
        """Use these channels from the next message on (the old ones finish what they hold)."""
        with self.lock:
            old, self.channels = self.channels, [ChannelThread(c, self._outcome) for c in channels]
            self.grouper.window, self.grouper.max_delay = window, max_delay
            if self.channels and self.thread is None and not self.closed:
                self.thread = threading.Thread(
                    target=self._run, name="lvsadmin-notify", daemon=True
                )
                self.thread.start()
        for channel in old:
            channel.close()

    def notify(self, event: Event | Callable[[], Event]) -> bool:
        """Queue one change (or a function returning it, called on the notifier's thread);
        never blocks. False: not queued (no channel, or the inbox is full)."""
        if not self.channels or self.closed:
            return False
        if len(self.inbox) >= self.queue_size:
            with self.lock:
                self.dropped += 1
            return False
        self.inbox.append(event)  # deque.append is atomic: no lock on the caller's path
        if not self.wake.is_set():
            self.wake.set()
        return True

    def close(self, timeout: float = 1.0) -> None:
        """Send what is grouped now, then stop (waits at most `timeout` for the grouping thread;
        channel threads are daemons and end with the process)."""
        self.closed = True
        if self.thread is not None:
            self.inbox.append(None)
            self.wake.set()
            self.thread.join(timeout)
        for channel in self.channels:
            channel.close()

    def _outcome(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes = [*self.outcomes[-19:], outcome]

    def _run(self) -> None:
        while True:
            deadline = self.grouper.deadline()
            self.wake.wait(None if deadline is None else max(0.0, deadline - self.clock()))
            self.wake.clear()  # before draining: a change appended from now on wakes us again
            while self.inbox:
                item = self.inbox.popleft()
                if item is None:  # close(): what is pending goes out now
                    self._send(self.grouper.take())
                    return
                try:
                    event = item if isinstance(item, Event) else item()
                except Exception:  # a bad event must not stop the notifications
                    log.exception("could not build a notification event")
                    continue
                self.grouper.add(event, self.clock())
            self._send(self.grouper.take_due(self.clock()))

    def _send(self, events: list[Event]) -> None:
        if not events:
            return
        with self.lock:
            dropped, self.dropped = self.dropped, 0
            channels = list(self.channels)
        message = Message(tuple(events), self.director, dropped=dropped)
        for channel in channels:
            channel.submit(message)
