"""How other processes reach the one writer, the worker: files beside the apply state.

`applylvs` (from a shell or cron) never writes while a worker is alive: it finds it by the lock
the worker holds for its whole life (`WorkerPresence`) and asks it to converge through two small
files (`request_converge` / `ConvergeRequests`); the worker leaves what it enforces in a third
(`write_view`), for `applylvs --dry-run`. Files, not signals: a non-root user may run
`applylvs --dry-run`, and the worker polls twice a second anyway. Django-free.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from monitoring.ipvs.converge import ApplyResult
from monitoring.live.holds import Held, RuntimeState
from virtualservers.lvsconf.files import write_atomically
from virtualservers.lvsconf.model import RealServerRef


def _sibling(state_path: Path, suffix: str) -> Path:
    return state_path.with_name(state_path.name + suffix)


class WorkerPresence:
    """A lock the worker holds for its whole life: the kernel releases it when the process dies,
    however it dies, so a stale pid file can never make applylvs believe in a dead worker."""

    def __init__(self, state_path: Path) -> None:
        self.path = _sibling(state_path, ".worker")
        self.handle = None

    def claim(self) -> bool:
        """Take the lock; False when another worker holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self.handle = handle
        return True

    def release(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None

    @staticmethod
    def alive(state_path: Path) -> bool:
        """Whether a worker holds the lock now (works for any user that can read the file)."""
        path = _sibling(state_path, ".worker")
        try:
            handle = open(path)
        except OSError:
            return False
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False


@dataclass(frozen=True)
class ConvergeAnswer:
    token: str
    summary: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


def _write_json(path: Path, data: dict) -> None:
    write_atomically(path, json.dumps(data))


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def request_converge(state_path: Path, wait: float) -> ConvergeAnswer | None:
    """Ask the live worker to converge now and wait for its answer (None: no answer in time)."""
    token = uuid.uuid4().hex
    _write_json(_sibling(state_path, ".converge-request"), {"token": token})
    deadline = time.monotonic() + wait
    answer_path = _sibling(state_path, ".converge-done")
    while time.monotonic() < deadline:
        data = _read_json(answer_path)
        if data is not None and data.get("token") == token:
            return ConvergeAnswer(token, str(data.get("summary", "")), data.get("error"))
        time.sleep(0.1)
    return None


class ConvergeRequests:
    """The worker's side: notice a request (cheap: one stat per poll) and answer it."""

    def __init__(self, state_path: Path) -> None:
        self.request_path = _sibling(state_path, ".converge-request")
        self.answer_path = _sibling(state_path, ".converge-done")
        self.answered: str | None = None

    def pending(self) -> str | None:
        """The token of a request not answered yet."""
        if not self.request_path.exists():
            return None
        data = _read_json(self.request_path)
        token = None if data is None else data.get("token")
        return token if isinstance(token, str) and token != self.answered else None

    def answer(self, token: str, result: ApplyResult | None, why_not: str = "") -> None:
        self.answered = token
        if result is None:
            summary, error = "", why_not or "nothing is published"
        else:
            summary, error = result.summary(), result.error
        _write_json(self.answer_path, {"token": token, "summary": summary, "error": error})


def write_view(
    state_path: Path,
    serial: int | None,
    down: Collection[RealServerRef],
    held: Held | None = None,
) -> None:
    """What the worker enforces, for `applylvs --dry-run`: the revision, the servers health
    took out and the runtime states (drain, maintenance) it applied."""
    _write_json(
        _sibling(state_path, ".view"),
        {
            "serial": serial,
            "down": sorted([r.virtual, r.address, r.port] for r in down),
            "held": sorted([r.virtual, r.address, r.port, str(s)] for r, s in (held or {}).items()),
        },
    )


def read_view_down(state_path: Path) -> frozenset[RealServerRef]:
    data = _read_json(_sibling(state_path, ".view")) or {}
    down = data.get("down") or []
    return frozenset(RealServerRef(str(v), str(a), int(p)) for v, a, p in down)


def read_view_held(state_path: Path) -> dict[RealServerRef, RuntimeState]:
    data = _read_json(_sibling(state_path, ".view")) or {}
    held = {}
    for v, a, p, state in data.get("held") or []:
        try:
            held[RealServerRef(str(v), str(a), int(p))] = RuntimeState(state)
        except ValueError:
            continue  # a state this version does not know: not applied by it either
    return held
