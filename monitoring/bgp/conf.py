"""The BGP mode's settings, read once: BIRD's binaries, configuration, socket and pid file, and
the operator's out-of-service flag."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from monitoring.bgp.bird import BirdPaths
from virtualservers.conf import resolved_once


@resolved_once
def bird_paths() -> BirdPaths:
    return BirdPaths(
        conf=settings.LVSADMIN_BIRD_CONF,
        socket=settings.LVSADMIN_BIRD_SOCKET,
        pid_file=settings.LVSADMIN_BIRD_PID,
        bird=settings.LVSADMIN_BIRD,
        birdc=settings.LVSADMIN_BIRDC,
    )


@resolved_once
def service_file() -> Path:
    """The operator's out-of-service flag (monitoring.bgp.service)."""
    return Path(settings.LVSADMIN_BGP_OUT_OF_SERVICE_FILE)
