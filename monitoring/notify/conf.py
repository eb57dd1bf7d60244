"""Notifications' settings, read once: this director's name in messages and the retry backoff."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from django.conf import settings

from virtualservers.conf import resolved_once


@dataclass(frozen=True)
class NotifySettings:
    name: str  # LVSADMIN_DIRECTOR_NAME ("": the host's name, asked each time)
    retry_backoff: float  # LVSADMIN_NOTIFY_RETRY_BACKOFF

    @property
    def director_name(self) -> str:
        return self.name or socket.gethostname()


@resolved_once
def notify() -> NotifySettings:
    return NotifySettings(
        name=settings.LVSADMIN_DIRECTOR_NAME,
        retry_backoff=settings.LVSADMIN_NOTIFY_RETRY_BACKOFF,
    )
