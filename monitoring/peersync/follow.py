"""The standby's side of configuration sync, on plain data (Django-free).

Every half second the standby asks its peer for the latest published revision, checks the
answer's signature and that the lvs.cf parses, and hands a newer revision to a `Store` (the
database, in `mirror`). Whatever goes wrong (peer down, bad signature, a file that does not
parse), the standby keeps the revision it has and the state says why and since when.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from monitoring.peersync import signing
from virtualservers.lvsconf.model import LvsConfError
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render

PEER_PATH = "/peer/revision"
TIMEOUT = 2.0


def digest(text: str, checks: Mapping[str, Any]) -> str:
    """What identifies a revision's content on both directors: its lvs.cf and built-in checks."""
    blob = text + "\n" + json.dumps(checks or {}, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class PeerRevision:
    serial: int
    text: str
    checks: dict
    digest: str
    comment: str = ""


@dataclass(frozen=True)
class Local:
    """The standby's latest revision, as far as following needs it."""

    serial: int
    text: str
    checks: dict
    digest: str


class PeerError(Exception):
    """The peer could not be used this time; `kind` is "unreachable" or "rejected"."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind


class Transport(Protocol):
    def get(
        self, url: str, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]: ...


class UrllibTransport:
    """HTTP(S) GET with the standard library (https verifies the peer's certificate). The two
    directors talk directly: an http_proxy in the environment is not used."""

    def __init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def get(
        self, url: str, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, Mapping[str, str], bytes]:
        request = urllib.request.Request(url, headers=dict(headers), method="GET")
        try:
            with self.opener.open(request, timeout=timeout) as answer:
                return answer.status, dict(answer.headers.items()), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), exc.read()


class PeerClient:
    """Fetches and verifies the peer's latest revision."""

    def __init__(
        self,
        base_url: str,
        secret: bytes,
        transport: Transport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.secret = secret
        self.transport = transport or UrllibTransport()
        self.clock = clock

    def fetch(self, have: Local | None = None) -> PeerRevision | None:
        """The peer's latest revision (None: it has published nothing); PeerError otherwise.

        With `have` (this director's latest), the peer leaves the text out when its latest is
        the same: polling twice a second then costs a few hundred bytes, not the whole lvs.cf."""
        answer = self._get(f"{PEER_PATH}?have={have.serial}:{have.digest}" if have else PEER_PATH)
        if answer.get("unchanged") and have is not None:
            if (answer.get("serial"), answer.get("digest")) == (have.serial, have.digest):
                return PeerRevision(have.serial, have.text, have.checks, have.digest)
            answer = self._get(PEER_PATH)  # it changed in between: ask for the whole of it
        return _peer_revision(answer)

    def _get(self, path: str) -> dict:
        headers = signing.sign_request(self.secret, "GET", path, self.clock())
        try:
            status, answer_headers, body = self.transport.get(
                self.base_url + path, headers, TIMEOUT
            )
        except (OSError, ValueError) as exc:  # refused, timed out, no route, bad URL
            raise PeerError("unreachable", _reason(exc)) from None
        if status != 200:
            first = body.decode("utf-8", "replace").strip().splitlines()[:1]
            raise PeerError("rejected", f"HTTP {status}" + (f": {first[0][:200]}" if first else ""))
        try:
            signing.verify_response(
                self.secret, headers[signing.NONCE], answer_headers, body, self.clock()
            )
        except signing.SignatureError as exc:
            raise PeerError("rejected", f"bad answer signature: {exc}") from None
        try:
            answer = json.loads(body)
        except ValueError as exc:
            raise PeerError("rejected", f"the answer is not JSON ({exc})") from None
        if not isinstance(answer, dict):
            raise PeerError("rejected", "the answer is not a revision")
        return answer


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def _peer_revision(data: dict) -> PeerRevision | None:
    try:
        if data.get("serial") is None:
            return None
        revision = PeerRevision(
            serial=int(data["serial"]),
            text=str(data["text"]),
            checks=dict(data.get("checks") or {}),
            digest=str(data["digest"]),
            comment=str(data.get("comment") or ""),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise PeerError("rejected", f"the answer is not a revision ({exc})") from None
    if digest(revision.text, revision.checks) != revision.digest:
        raise PeerError("rejected", "the revision's digest does not match its content")
    return revision


class Store(Protocol):
    """Where followed revisions go (the database, in `mirror`)."""

    def latest(self) -> Local | None: ...

    def save(self, revision: PeerRevision, serial: int) -> None: ...


@dataclass
class FollowState:
    """What CONTROL/MONITORING shows about following."""

    peer: str
    state: str = "starting"  # following | unreachable | rejected
    peer_serial: int | None = None
    local_serial: int | None = None
    matches: bool | None = None
    last_contact: float | None = None
    failing_since: float | None = None
    reason: str = ""
    adopted: list[int] = field(default_factory=list)  # serials stored by the last step


def same_content(local: Local, peer: PeerRevision) -> bool:
    """Equal configuration, whatever serial_no each file carries."""
    if local.digest == peer.digest:
        return True
    if local.checks != peer.checks:
        return False
    try:
        mine, theirs = parse(local.text)[0], parse(peer.text)[0]
    except LvsConfError:
        return False
    return replace(mine, serial_no=0) == replace(theirs, serial_no=0)


class Follower:
    """One step per poll: fetch, verify, store what is new, say how it went."""

    def __init__(self, client: PeerClient, store: Store, peer: str, clock=time.time) -> None:
        self.client, self.store, self.clock = client, store, clock
        self.state = FollowState(peer)
        self._compared: tuple[tuple[str, str] | None, bool] = (None, False)

    def step(self) -> FollowState:
        now = self.clock()
        self.state.adopted = []
        try:
            peer = self.client.fetch(self.store.latest())
            if peer is not None:
                self._follow(peer)
        except PeerError as exc:
            if self.state.state not in ("unreachable", "rejected"):
                self.state.failing_since = now
            self.state.state, self.state.reason = exc.kind, str(exc)
            self.state.matches = None
            local = self.store.latest()
            self.state.local_serial = local.serial if local is not None else None
            return self.state
        local = self.store.latest()
        self.state.state, self.state.reason, self.state.failing_since = "following", "", None
        self.state.last_contact = now
        self.state.peer_serial = peer.serial if peer is not None else None
        self.state.local_serial = local.serial if local is not None else None
        self.state.matches = None if peer is None or local is None else self._same(local, peer)
        return self.state

    def _same(self, local: Local, peer: PeerRevision) -> bool:
        # Parsing both files twice a second would cost a large configuration dearly: the answer
        # is kept until either side changes.
        key = (local.digest, peer.digest)
        if self._compared[0] != key:
            self._compared = (key, same_content(local, peer))
        return self._compared[1]

    def _follow(self, peer: PeerRevision) -> None:
        local = self.store.latest()
        if local is not None and local.serial == peer.serial and local.digest == peer.digest:
            return
        try:
            config, _warnings = parse(peer.text)
        except LvsConfError as exc:
            raise PeerError("rejected", f"the peer's lvs.cf does not parse: {exc}") from None
        if local is None or peer.serial > local.serial:
            self.store.save(peer, peer.serial)
            self.state.adopted.append(peer.serial)
        elif not same_content(local, peer):
            # The directors published apart (a split, or this one was active meanwhile): the
            # active director's configuration wins, under the next serial here so that the worker
            # (which enforces the highest serial) takes it and no history is rewritten.
            serial = local.serial + 1
            text = render(replace(config, serial_no=serial))
            copy = replace(peer, text=text, digest=digest(text, peer.checks))
            self.store.save(copy, serial)
            self.state.adopted.append(serial)
