"""Notifications, Django's side: the channels the notifications page configured, e-mail through
Django's mail backend, the test message, and the worker's hook.

The grouping and the deliveries are in the Django-free core (monitoring.notify); this module only
turns the NotificationSettings row into channels, and is what the worker and the page call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import DatabaseError

from monitoring.checks.health import Transition
from monitoring.checks.programs import ProgramPolicy
from monitoring.models import NotificationSettings, PreparedRead
from monitoring.notify import conf
from monitoring.notify.channels import Channel, EmailChannel, ProgramChannel, WebhookChannel
from monitoring.notify.events import Event, ServerState, realserver_event
from monitoring.notify.message import Message
from monitoring.notify.notifier import EVENT_QUEUE, Notifier, Outcome, deliver_concurrently
from virtualservers.conf import check_programs

# The fields whose change makes the worker rebuild its channels.
CONFIG_FIELDS = tuple(
    f.name for f in NotificationSettings._meta.concrete_fields if not f.primary_key
)
# Read on every poll of the worker's control thread (see PreparedRead).
_SETTINGS = PreparedRead(NotificationSettings.objects.filter(pk=1).values_list(*CONFIG_FIELDS)[:1])


log = logging.getLogger("lvsadmin.notify")
# The test button's channels run at once, each bounded by this, so the page answers before
# gunicorn's 30 s timeout kills the request (e-mail: EMAIL_TIMEOUT, 10 s by default).
TEST_SECONDS = 20.0


def director_name() -> str:
    return conf.notify().director_name


def program_policy() -> ProgramPolicy:
    """The check programs' policy, from the same settings root sets for them."""
    programs = check_programs()
    return ProgramPolicy(dirs=programs.dirs, user=programs.user, root_dirs=programs.root_dirs)


def _mail_sender(from_email: str):
    def send(subject: str, body: str, recipients: Sequence[str]) -> None:
        send_mail(subject, body, from_email, list(recipients), fail_silently=False)

    return send


def channels_for(
    config: NotificationSettings, retries: int | None = None, longest: float | None = None
) -> list[Channel]:
    """Every channel the row fills in. The test button overrides the webhook's `retries` (it
    answers with what the first attempt did) and caps every timeout at `longest`."""

    def capped(timeout: float) -> float:
        return timeout if longest is None else min(timeout, longest)

    channels: list[Channel] = []
    recipients = tuple(config.recipient_list())
    if recipients:
        sender = config.sender or settings.DEFAULT_FROM_EMAIL
        channels.append(EmailChannel(recipients, _mail_sender(sender)))
    if config.webhook_url:
        channels.append(
            WebhookChannel(
                config.webhook_url,
                timeout=capped(config.webhook_timeout),
                retries=config.webhook_retries if retries is None else retries,
                backoff=conf.notify().retry_backoff,
            )
        )
    if config.program.strip():
        channels.append(
            ProgramChannel(
                config.program, timeout=capped(config.program_timeout), policy=program_policy()
            )
        )
    return channels


def send_test(config: NotificationSettings) -> list[Outcome]:
    """The "Send test message" button: one test message through every configured channel,
    here and now, each channel's result."""
    channels = channels_for(config, retries=0, longest=TEST_SECONDS)
    message = Message((), director_name(), test=True)
    return deliver_concurrently(channels, message, TEST_SECONDS + 2)


def transition_event(transition: Transition, at: float | None = None) -> Event:
    ref = transition.ref
    state, previous = (ServerState.UP, ServerState.DOWN)
    if not transition.up:
        state, previous = previous, state
    return realserver_event(
        ref.virtual, ref.address, ref.port, state, previous, transition.reason, at
    )


class WorkerNotifications:
    """The worker's side: `changed()` on the event loop (never blocks), `reload()` on the
    control thread's poll (one small query), `close()` when the worker stops."""

    def __init__(self) -> None:
        self.notifier = Notifier(director_name())
        self.loaded: dict | None = None
        # Changes seen before the settings were first read (the first checks can beat the
        # first poll): handed over then, so a server found down at start is not lost.
        self.early: list[Event] | None = []
        self.early_lock = threading.Lock()
        self.failed = ""  # the last reason the settings could not be read, logged once

    def reload(self) -> bool:
        try:
            rows = _SETTINGS.rows()
        except DatabaseError as exc:
            # Not migrated yet, say: the worker's own configuration must not wait for this.
            if str(exc) != self.failed:
                log.error("cannot read the notification settings (%s); keeping the last ones", exc)
                self.failed = str(exc)
            return False
        self.failed = ""
        values = dict(zip(CONFIG_FIELDS, rows[0], strict=True)) if rows else {}
        if values == self.loaded:
            return False
        self.loaded = values
        self.notifier.director = director_name()
        config = NotificationSettings(**values)
        self.notifier.configure(channels_for(config), config.window, config.max_delay)
        with self.early_lock:
            early, self.early = self.early, None
            for event in early or ():
                self.notifier.notify(event)
        return True

    def changed(self, transition: Transition) -> None:
        """On the checks' event loop: the event is built on the notifier's thread."""
        if self.notifier.enabled or self.early is not None:
            self.notify(partial(transition_event, transition, time.time()))

    def notify(self, event: Event | Callable[[], Event]) -> bool:
        """The entry point for every other change: drain and maintenance states, director
        roles (events.realserver_event, events.director_event). Never blocks."""
        if self.early is not None:
            with self.early_lock:  # taken once: held only while the first read hands over
                if self.early is not None:
                    if len(self.early) >= EVENT_QUEUE:
                        return False
                    self.early.append(event)
                    return True
        return self.notifier.notify(event)

    def close(self) -> None:
        self.notifier.close()
