"""The worker's heartbeat as a file beside the apply state, which CONTROL, the API and /metrics
read with the status row's.

Why a file and not only the WorkerStatus row: any database write waits for the database's write
lock, and a writer can hold it for seconds (SQLite: importlvscf of 10,000 virtual servers, an
Apply of a big revision). A worker that was alive and checking then looked stopped to CONTROL
(a heartbeat gap of 12 s against FRESH's 10 s on a loaded machine). Touching a file's time waits
for nobody; the event loop does it, so a fresh heartbeat also says that checks are being run.
The row's heartbeat is still written with the status (and keeps `previous_heartbeat`).

Each beat is also systemd's watchdog ping (`WATCHDOG=1` to $NOTIFY_SOCKET, sd_notify(3)) when
the worker runs under the shipped unit (`WatchdogSec=`): a worker whose event loop hangs without
dying stops beating, systemd kills and restarts it, and in BGP mode its BIRD, a child that dies
with it, withdraws this director's routes. Ten lines of a stable, documented protocol, rather
than python-systemd, which needs a C build against libsystemd's headers.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

BEAT_EVERY = 1.0  # seconds between touches of the file (CONTROL calls older than 10 s stopped)


def heartbeat_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".heartbeat")


class SystemdNotifier:
    """sd_notify(3) without libsystemd: one datagram to the unix socket that systemd names in
    NOTIFY_SOCKET (a leading "@" is Linux's abstract namespace). Without it (not run by systemd,
    or a unit without notifications) it sends nothing."""

    def __init__(self, environ: Mapping[str, str] = os.environ) -> None:
        address = environ.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address

    def notify(self, state: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(state.encode(), self.address)
        except OSError:  # systemd gone (shutting down): nothing is watching any more
            return False
        return True


class Heartbeat:
    """Touches the heartbeat file, and pings systemd's watchdog, at most every BEAT_EVERY seconds
    of `clock`."""

    def __init__(self, state_path: Path, clock, systemd: SystemdNotifier | None = None) -> None:
        self.path = heartbeat_path(state_path)
        self.clock = clock
        self.systemd = systemd or SystemdNotifier()
        self.last = float("-inf")

    def beat(self) -> bool:
        now = self.clock()
        if now - self.last < BEAT_EVERY:
            return False
        self.last = now
        # First, and whatever happens to the file: the loop is alive, which is what systemd asks
        # (an unwritable file is the caller's error to log, not a hang to restart).
        self.systemd.notify("WATCHDOG=1")
        try:
            os.utime(self.path, (now, now))
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch(mode=0o644)
            os.utime(self.path, (now, now))
        return True


def last_seen(row_heartbeat: datetime | None, state_path: Path) -> datetime | None:
    """The worker's latest sign of life: the newer of the status row's heartbeat and the file's
    time (None: neither exists)."""
    try:
        touched: datetime | None = datetime.fromtimestamp(
            heartbeat_path(state_path).stat().st_mtime, UTC
        )
    except OSError:
        touched = None
    candidates = [t for t in (row_heartbeat, touched) if t is not None]
    return max(candidates) if candidates else None
