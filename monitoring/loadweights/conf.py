"""The load monitor's settings, read once (the Django side of loadweights)."""

from __future__ import annotations

from django.conf import settings

from virtualservers.conf import resolved_once


@resolved_once
def uptime_ssh_config() -> str:
    return settings.LVSADMIN_UPTIME_SSH_CONFIG
