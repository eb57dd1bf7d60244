"""Two directors' settings, read once: keepalived's binary and files, the role, yield,
worker-ready and status files, VRRP's router id and secret, the sync daemon's cadence."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from monitoring.redundancy import hook
from monitoring.redundancy.director import RedundancyPaths
from virtualservers.conf import resolved_once


@dataclass(frozen=True)
class RedundancySettings:
    keepalived: str  # LVSADMIN_KEEPALIVED: the binary's name or path
    keepalived_conf: Path
    keepalived_pid: Path
    role_file: Path  # the contract other parts read (role.py)
    yield_file: Path  # hand-over asked from the GUI
    ready_file: Path  # keepalived's track file: the worker has loaded the table
    status_file: Path  # the worker's redundancy state, for the DIRECTOR panel
    router_id: int
    secret: str
    sync_refresh: int

    def paths(self) -> RedundancyPaths:
        """What the Django-free redundancy step needs, keepalived's notify hook included."""
        return RedundancyPaths(
            conf=self.keepalived_conf,
            pid_file=self.keepalived_pid,
            role_file=self.role_file,
            yield_file=self.yield_file,
            notify=(sys.executable, str(Path(hook.__file__).resolve())),
            binary=self.keepalived,
            router_id=self.router_id,
            secret=self.secret,
            ready_file=self.ready_file,
            sync_refresh=self.sync_refresh,
        )


@resolved_once
def redundancy() -> RedundancySettings:
    return RedundancySettings(
        keepalived=settings.LVSADMIN_KEEPALIVED,
        keepalived_conf=Path(settings.LVSADMIN_KEEPALIVED_CONF),
        keepalived_pid=Path(settings.LVSADMIN_KEEPALIVED_PID),
        role_file=Path(settings.LVSADMIN_ROLE_FILE),
        yield_file=Path(settings.LVSADMIN_VRRP_YIELD_FILE),
        ready_file=Path(settings.LVSADMIN_WORKER_READY_FILE),
        status_file=Path(settings.LVSADMIN_REDUNDANCY_STATUS),
        router_id=settings.LVSADMIN_VRRP_ROUTER_ID,
        secret=settings.LVSADMIN_VRRP_SECRET,
        sync_refresh=settings.LVSADMIN_SYNC_REFRESH_SECONDS,
    )
