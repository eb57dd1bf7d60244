"""The one writer of the kernel table, and how other processes reach it.

What belongs in the IPVS table is the published configuration minus what health took out, and
only the worker knows both. `TableWriter` is its memory of what it last left in the kernel: a
health change is diffed against that memory and costs only its own netlink messages (measured in
the lab VM at 1,000 x 10: a weight change was a 4 ms apply inside a 2.4 s dump and diff). A full
converge (dump, diff, VIPs, timeouts, NAT) runs when the configuration changes, after any
failure, when someone asks, and on the drift-repair schedule, which is what finds someone's
`ipvsadm -C`, a reboot or a hand-deleted entry.

Other processes (`applylvs`, from a shell or cron) never write while a worker is alive: they
find it by the lock it holds for its whole life (`WorkerPresence`) and ask it to converge through
two small files beside the apply state (`request_converge` / `ConvergeRequests`). Files, not
signals: a non-root user may run `applylvs --dry-run`, and the worker polls twice a second anyway.
Django-free, like the rest of this package.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from monitoring.ipvs.base import Driver, DriverError
from monitoring.ipvs.engine import (
    LOCK_WAIT_SECONDS,
    ApplyResult,
    apply,
    apply_lock,
)
from monitoring.ipvs.runtime import Held, RuntimeState, changed_refs
from monitoring.ipvs.table import DesiredState, ServiceKey, desired_state, diff, service_key
from virtualservers.lvsconf.model import LvsConfig, RealServerRef


class TableWriter:
    """Applies configurations and health changes, remembering what it wrote."""

    def __init__(
        self,
        driver: Driver,
        state_path: Path,
        arp_count: int = 5,
        lock_wait: float = LOCK_WAIT_SECONDS,
    ) -> None:
        self.driver = driver
        self.state_path = state_path
        self.arp_count = arp_count
        self.lock_wait = lock_wait
        # What the kernel holds for our services after our last successful write, and for which
        # configuration; None: unknown (never written, or the last write failed).
        self.written: DesiredState | None = None
        self.written_for: LvsConfig | None = None
        self.written_down: frozenset[RealServerRef] = frozenset()
        self.written_held: Held = {}
        self.written_weights: dict[RealServerRef, int] = {}  # slow start's, when written
        self.owners: set[str] = set()  # names of the virtual blocks that make a service

    def converge(
        self,
        config: LvsConfig,
        down: Collection[RealServerRef] = (),
        held: Held | None = None,
        weights: Mapping[RealServerRef, int] | None = None,
    ) -> ApplyResult:
        """Read the kernel and converge everything: the table, the VIPs, timeouts, NAT."""
        result = apply(
            config,
            self.driver,
            self.state_path,
            down=down,
            arp_count=self.arp_count,
            lock_wait=self.lock_wait,
            held=held,
            weights=weights,
        )
        self._remember(config, result, down, held, weights)
        return result

    def update(
        self,
        config: LvsConfig,
        down: Collection[RealServerRef],
        held: Held | None = None,
        weights: Mapping[RealServerRef, int] | None = None,
    ) -> ApplyResult:
        """A health change: only the virtual servers whose real servers changed state are
        recomputed, and diffed against what was written; no dump. Anything else (another
        configuration, nothing known) takes the full converge. Measured in the lab VM at
        1,000 x 10: recomputing and diffing the whole table cost 1.5 s per transition."""
        written = self.written
        held = held or {}
        if written is None or self.written_for is not config:
            return self.converge(config, down, held, weights)
        down = frozenset(down)
        weights = dict(weights or {})
        changed = {ref.virtual for ref in down ^ self.written_down}
        changed |= {ref.virtual for ref in changed_refs(self.written_held, held)}
        old_weights = self.written_weights
        changed |= {
            ref.virtual
            for ref in weights.keys() | old_weights.keys()
            if weights.get(ref) != old_weights.get(ref)
        }
        # Only a service's first virtual block counts (Piranha ignores later blocks of the same
        # firewall mark), so only those are recomputed.
        subset = [v for v in config.virtuals if v.name in changed and v.name in self.owners]
        partial = desired_state(replace(config, virtuals=subset), down, held=held, weights=weights)
        if not partial.table.keys() <= written.table.keys():
            return self.converge(config, down, held, weights)
        table = dict(written.table)
        table.update(partial.table)
        desired = DesiredState(table, written.vips, written.warnings, written.nat_router)
        result = ApplyResult(warnings=list(written.warnings), desired=desired)
        current = {key: written.table[key] for key in partial.table}
        # The services are the same ones, and ours: nothing outside them can be touched.
        result.ops = diff(current, partial.table, partial.table.keys())
        if result.ops:
            with apply_lock(self.state_path, self.lock_wait):
                try:
                    result.executed = self.driver.apply(result.ops)
                except DriverError as exc:
                    result.error = str(exc)
        self._remember(config, result, down, held, weights)
        return result

    def forget(self) -> None:
        """The kernel may differ from what was written (a driver error, a new driver)."""
        self.written, self.written_for = None, None

    def _remember(
        self,
        config: LvsConfig,
        result: ApplyResult,
        down: Collection[RealServerRef],
        held: Held | None = None,
        weights: Mapping[RealServerRef, int] | None = None,
    ) -> None:
        if not (result.ok and result.desired is not None):
            self.forget()
            return
        if self.written_for is not config:
            owners: dict[ServiceKey, str] = {}
            for virtual in config.virtuals:
                if virtual.effective_active:
                    owners.setdefault(service_key(virtual), virtual.name)
            self.owners = set(owners.values())
        self.written, self.written_for = result.desired, config
        self.written_down = frozenset(down)
        self.written_held = dict(held or {})
        self.written_weights = dict(weights or {})


# --- a live worker, and requests to it ----------------------------------------------------------


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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


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
