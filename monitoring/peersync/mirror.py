"""The Django side of following: the database as the follower's store, the status row that
CONTROL/MONITORING reads, what the active director serves, and the thread the worker starts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.db import close_old_connections

from monitoring.models import (
    PeerFollowStatus,
    Revision,
    create_the_single_row,
    retry_on_deadlock,
)
from monitoring.peersync import signing
from monitoring.peersync.conf import peersync
from monitoring.peersync.follow import (
    Follower,
    FollowState,
    Local,
    PeerClient,
    PeerError,
    PeerRevision,
    digest,
)
from monitoring.publish import revisions as publish
from monitoring.redundancy.conf import redundancy
from monitoring.redundancy.role import ROLE_SINGLE, ROLE_STANDBY, DirectorRole, read_role

log = logging.getLogger("lvsadmin.peersync")


# Why a director without a VRRP role follows (LVSADMIN_FOLLOW_PEER), as the role's reason.
FOLLOWS_EDITING = "LVSADMIN_FOLLOW_PEER: follows the director where the configuration is edited"


def role() -> DirectorRole:
    """This director's role for following (the redundancy side's file); "single" when there is
    none. Directors active at once (BGP) have no VRRP role: one set to follow its peer
    (LVSADMIN_FOLLOW_PEER) is a standby here, for the configuration only; the one where the
    configuration is edited stays single, and is what its followers' PEER_URL names."""
    info = read_role(redundancy().role_file)
    if info.role == ROLE_SINGLE and peersync().follow_peer:
        # No VRRP peer here: the editing director is LVSADMIN_PEER_URL's (peer_url()).
        return DirectorRole(ROLE_STANDBY, info.since, FOLLOWS_EDITING)
    return info


def peer_url(role_info: DirectorRole) -> str:
    """Where the peer's GUI answers: the setting, else the role file's peer on :3636."""
    if peersync().peer_url:
        return peersync().peer_url
    peer = role_info.peer
    if not peer:
        return ""
    host = f"[{peer}]" if ":" in peer else peer
    return f"http://{host}:3636"


def secret() -> bytes:
    return signing.load_secret(peersync().secret_file)


# --- what the active director serves -------------------------------------------------------------


# A revision never changes once published: its digest is computed once. Keyed by row, serial and
# time so that a deleted and re-made row cannot pass for the old one.
_HEAD = ("pk", "serial_no", "created_at")
_digests: dict[tuple, str] = {}


def _head() -> tuple | None:
    return Revision.objects.order_by("-serial_no").values_list(*_HEAD).first()


def latest_payload(have: str = "") -> dict[str, Any]:
    """The latest published revision as the peer endpoint sends it; without its text when the
    asker already has it (`have` is "serial:digest"): the standby asks twice a second."""
    head = _head()
    if head is None:
        return {"serial": None}
    known = _digests.get(head)
    if known is not None and have == f"{head[1]}:{known}":
        return {"serial": head[1], "digest": known, "unchanged": True}
    latest = Revision.objects.get(pk=head[0])
    checks = latest.checks or {}
    _digests.clear()
    _digests[head] = digest(latest.text, checks)
    return {
        "serial": latest.serial_no,
        "text": latest.text,
        "checks": checks,
        "digest": _digests[head],
        "comment": latest.comment,
        "published_at": latest.created_at.isoformat() if latest.created_at else None,
    }


# --- the standby -------------------------------------------------------------------------------


class DatabaseStore:
    """Followed revisions become published revisions here (and the draft, and lvs.cf)."""

    def __init__(self, peer: str) -> None:
        self.peer = peer
        self.cached: tuple[tuple, Local] | None = None  # read once per revision

    def latest(self) -> Local | None:
        head = _head()
        if head is None:
            return None
        if self.cached is None or self.cached[0] != head:
            row = Revision.objects.get(pk=head[0])
            checks = row.checks or {}
            self.cached = (head, Local(row.serial_no, row.text, checks, digest(row.text, checks)))
        return self.cached[1]

    def save(self, revision: PeerRevision, serial: int) -> None:
        note = f"from {self.peer}, serial {revision.serial}"
        comment = f"{revision.comment} ({note})" if revision.comment else note
        try:
            publish.publish_copy(serial, revision.text, revision.checks, comment)
        except publish.PublishError as exc:
            raise PeerError("rejected", str(exc)) from None
        log.info("following %s: published serial %s", self.peer, serial)


def _aware(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def write_status(state: FollowState | None, role_name: str, now: float, reason: str = "") -> None:
    """The status row CONTROL/MONITORING shows (`state` None: not following, with `reason`)."""
    values: dict[str, Any] = {"role": role_name, "updated_at": _aware(now)}
    if state is None:
        values.update(state="off", reason=reason[:255], matches=None)
    else:
        values.update(
            peer=state.peer,
            state=state.state,
            peer_serial=state.peer_serial,
            local_serial=state.local_serial,
            matches=state.matches,
            last_contact=_aware(state.last_contact),
            failing_since=_aware(state.failing_since),
            reason=state.reason[:255],
        )
    create_the_single_row(PeerFollowStatus)
    retry_on_deadlock(lambda: PeerFollowStatus.objects.update_or_create(pk=1, defaults=values))


class FollowThread(threading.Thread):
    """Runs beside the worker: while this director is the standby, follow the peer every
    LVSADMIN_PEER_POLL_SECONDS; otherwise say why not (once). The worker picks a stored revision
    up as it does any Apply, at once when `on_adopted` tells it."""

    STATUS_EVERY = 2.0  # a quiet follower rewrites its status row this often (the "ago" moves)

    def __init__(self, clock=None, on_adopted: Callable[[], None] | None = None) -> None:
        super().__init__(name="lvsadmin-peersync", daemon=True)
        self.clock = clock or time.time
        self.on_adopted = on_adopted
        self.stopping = threading.Event()
        self.follower: Follower | None = None
        self.key: tuple[str, str] | None = None
        self.last_written: tuple[Any, ...] | None = None
        self.last_write = 0.0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                close_old_connections()
                self.step()
            except Exception:  # the worker must go on whatever this thread meets
                log.exception("following the peer failed")
            self.stopping.wait(peersync().poll_seconds)

    def step(self) -> None:
        now = self.clock()
        info = role()
        name = info.role
        if name != "standby":
            self.follower, self.key = None, None
            self._write(None, name, now, f"this director is {name}: it does not follow")
            return
        url = peer_url(info)
        try:
            shared = secret()
        except signing.SecretError as exc:
            self.follower = None
            self._write(None, name, now, f"cannot follow: {exc}")
            return
        if not url:
            self._write(None, name, now, "cannot follow: the peer is not known")
            return
        key = (url, signing.body_digest(shared))
        if self.follower is None or key != self.key:
            self.follower = Follower(
                PeerClient(url, shared, clock=self.clock),
                DatabaseStore(info.peer or url),
                info.peer or url,
                clock=self.clock,
            )
            self.key = key
        state = self.follower.step()
        if state.adopted and self.on_adopted is not None:
            self.on_adopted()
        self._write(state, name, now)

    def _write(self, state: FollowState | None, name: str, now: float, reason: str = "") -> None:
        shown = (
            (name, reason)
            if state is None
            else (
                name,
                state.state,
                state.peer_serial,
                state.local_serial,
                state.matches,
                state.reason,
            )
        )
        if shown == self.last_written and (
            state is None or now - self.last_write < self.STATUS_EVERY
        ):
            return  # not following: nothing moves, so nothing is rewritten
        write_status(state, name, now, reason)
        self.last_written, self.last_write = shown, now
