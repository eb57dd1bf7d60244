"""This director's role, kept in a small JSON file that keepalived's notify hooks write.

The file is the contract between keepalived (which owns the VIPs), the worker (which switches the
IPVS sync daemon), the web process (which shows the role) and the configuration follower (which
makes a standby's GUI read-only). Its content:

    {"role": "active", "since": 1764300000.5, "reason": "keepalived: MASTER", "peer": "192.0.2.2"}

Roles:
- ``active``: this director holds the VIPs and answers for them;
- ``standby``: the peer is active; this director keeps its IPVS table loaded and checks health;
- ``fault``: keepalived declared a fault (a tracked interface is down) or the file is unreadable;
- ``single``: no redundancy (``backup_active = 0``); this director is the only one, as before.

A missing file reads as ``single``: a director that never had redundancy configured has no file,
and that is today's single-director behaviour. An unreadable or malformed file reads as ``fault``
(with the reason), never as ``active``: a director unsure of its role must not claim the VIPs'
duties.

The API (``DirectorRole``, ``read_role``, ``write_role``, the ``ROLE_*`` names) is stable: other
modules read the file through it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from virtualservers.lvsconf.files import write_atomically

ROLE_ACTIVE = "active"
ROLE_STANDBY = "standby"
ROLE_FAULT = "fault"
ROLE_SINGLE = "single"
ROLES = (ROLE_ACTIVE, ROLE_STANDBY, ROLE_FAULT, ROLE_SINGLE)


@dataclass(frozen=True)
class DirectorRole:
    role: str
    since: float = 0.0
    reason: str = ""
    peer: str = ""

    @property
    def is_active(self) -> bool:
        return self.role == ROLE_ACTIVE

    @property
    def is_standby(self) -> bool:
        return self.role == ROLE_STANDBY

    @property
    def redundant(self) -> bool:
        """True when two directors share the VIPs (anything but ``single``)."""
        return self.role != ROLE_SINGLE

    @property
    def serves(self) -> bool:
        """True when this director answers for the VIPs: the active one, or the only one."""
        return self.role in (ROLE_ACTIVE, ROLE_SINGLE)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def read_role(path: str | os.PathLike[str]) -> DirectorRole:
    """The role recorded at ``path``; never raises for a missing or bad file (see the module)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return DirectorRole(ROLE_SINGLE, 0.0, "no role file: redundancy is off", "")
    except OSError as exc:
        return DirectorRole(ROLE_FAULT, 0.0, f"role file unreadable: {exc.strerror or exc}", "")
    try:
        data = json.loads(text)
    except ValueError as exc:
        return DirectorRole(ROLE_FAULT, 0.0, f"role file is not JSON: {exc}", "")
    if not isinstance(data, dict) or data.get("role") not in ROLES:
        return DirectorRole(ROLE_FAULT, 0.0, "role file names no known role", "")
    try:
        since = float(data.get("since") or 0.0)
    except (TypeError, ValueError):
        since = 0.0
    return DirectorRole(
        role=data["role"],
        since=since,
        reason=str(data.get("reason") or ""),
        peer=str(data.get("peer") or ""),
    )


@contextmanager
def role_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the role file's writers' lock (``<role file>.lock``, flock).

    Two writers share the file: keepalived's notify hook and the worker, which records a fault
    while keepalived is not running. Without the lock the worker could find no keepalived, then
    keepalived start and notify BACKUP, then the worker write its fault over that notification:
    keepalived does not notify again until its next transition, so the file said ``fault`` for
    a director that was MASTER (seen in the VM lab). The worker checks keepalived and writes
    while holding the lock; the hook writes while holding it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target.with_name(target.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def write_role(
    path: str | os.PathLike[str],
    role: str,
    reason: str = "",
    peer: str = "",
    now: float | None = None,
) -> DirectorRole:
    """Record ``role`` at ``path`` atomically (temp file + rename: a reader never sees half).

    ``since`` is kept from the file when the role does not change, so it always dates the last
    transition rather than the last notification.
    """
    if role not in ROLES:
        raise ValueError(f"unknown director role {role!r} (one of {', '.join(ROLES)})")
    target = Path(path)
    previous = read_role(target)
    stamp = time.time() if now is None else now
    if previous.role == role and previous.since:
        stamp = previous.since
    record = DirectorRole(role=role, since=stamp, reason=reason, peer=peer)
    write_atomically(target, record.to_json() + "\n", mode=0o644)
    return record
