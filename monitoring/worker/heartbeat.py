"""The worker's heartbeat as a file beside the apply state, which CONTROL, the API and /metrics
read with the status row's.

Why a file and not only the WorkerStatus row: any database write waits for the database's write
lock, and a writer can hold it for seconds (SQLite: importlvscf of 10,000 virtual servers, an
Apply of a big revision). A worker that was alive and checking then looked stopped to CONTROL
(a heartbeat gap of 12 s against FRESH's 10 s on a loaded machine). Touching a file's time waits
for nobody; the event loop does it, so a fresh heartbeat also says that checks are being run.
The row's heartbeat is still written with the status (and keeps `previous_heartbeat`).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

BEAT_EVERY = 1.0  # seconds between touches of the file (CONTROL calls older than 10 s stopped)


def heartbeat_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".heartbeat")


class Heartbeat:
    """Touches the heartbeat file at most every BEAT_EVERY seconds of `clock`."""

    def __init__(self, state_path: Path, clock) -> None:
        self.path = heartbeat_path(state_path)
        self.clock = clock
        self.last = float("-inf")

    def beat(self) -> bool:
        now = self.clock()
        if now - self.last < BEAT_EVERY:
            return False
        try:
            os.utime(self.path, (now, now))
        except FileNotFoundError:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch(mode=0o644)
            os.utime(self.path, (now, now))
        self.last = now
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
