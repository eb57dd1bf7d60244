"""The standby's follow loop on plain data: a fake peer behind a fake transport, a store in
memory. Whatever goes wrong, the standby keeps its last good revision and says why."""

import json

import pytest

from monitoring.peersync import signing
from monitoring.peersync.follow import (
    PEER_PATH,
    Follower,
    Local,
    PeerClient,
    digest,
)
from virtualservers.lvsconf.model import LvsConfig, RealServer, VirtualServer
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.render import render

SECRET = b"k" * 48
PEER = "192.0.2.10"


def lvs_cf(serial: int, weight: int = 1) -> str:
    return render(
        LvsConfig(
            serial_no=serial,
            primary="192.0.2.10",
            backup_active=True,
            backup="192.0.2.11",
            virtuals=[
                VirtualServer(
                    name="web",
                    active=True,
                    address="192.0.2.100",
                    device="eth0:1",
                    port=80,
                    servers=[
                        RealServer(name="r1", address="198.51.100.1", active=True, weight=weight)
                    ],
                )
            ],
        )
    )


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakePeer:
    """The active director's endpoint: verifies the request, answers signed."""

    def __init__(self, clock: Clock, secret: bytes = SECRET) -> None:
        self.clock, self.secret = clock, secret
        self.revision: dict | None = None
        self.down: OSError | None = None
        self.tamper = None  # a function a man in the middle applies to the body
        self.nonces = signing.NonceBook()
        self.asked: list[str] = []  # the query of each request

    def publish(self, serial: int, text: str | None = None, checks: dict | None = None) -> None:
        text = lvs_cf(serial) if text is None else text
        checks = checks or {}
        self.revision = {
            "serial": serial,
            "text": text,
            "checks": checks,
            "digest": digest(text, checks),
        }

    def get(self, url, headers, timeout):
        if self.down is not None:
            raise self.down
        base, _, query = url.partition("?")
        assert base == "http://192.0.2.10:3636" + PEER_PATH
        path = url.removeprefix("http://192.0.2.10:3636")
        try:
            nonce = signing.verify_request(
                self.secret, "GET", path, headers, b"", self.clock(), self.nonces
            )
        except signing.SignatureError as exc:
            return 403, {}, f"403 Forbidden: {exc}".encode()
        self.asked.append(query)
        answer = self.revision or {"serial": None}
        if self.revision and query == f"have={answer['serial']}:{answer['digest']}":
            answer = {"serial": answer["serial"], "digest": answer["digest"], "unchanged": True}
        body = json.dumps(answer).encode()
        answer = signing.sign_response(self.secret, nonce, body, self.clock())
        if self.tamper is not None:
            body = self.tamper(body)
        return 200, answer, body


class MemoryStore:
    def __init__(self) -> None:
        self.revisions: dict[int, tuple[str, dict]] = {}

    def latest(self):
        if not self.revisions:
            return None
        serial = max(self.revisions)
        text, checks = self.revisions[serial]
        return Local(serial, text, checks, digest(text, checks))

    def save(self, revision, serial):
        assert serial not in self.revisions
        self.revisions[serial] = (revision.text, revision.checks)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def peer(clock):
    return FakePeer(clock)


@pytest.fixture
def store():
    return MemoryStore()


def follower(peer, store, clock, secret=SECRET):
    client = PeerClient("http://192.0.2.10:3636/", secret, transport=peer, clock=clock)
    return Follower(client, store, PEER, clock=clock)


def test_a_revision_published_on_the_peer_is_stored_with_its_serial(peer, store, clock):
    peer.publish(42, checks={"web": {"kind": "tcp"}})
    state = follower(peer, store, clock).step()
    assert store.revisions == {42: (lvs_cf(42), {"web": {"kind": "tcp"}})}
    assert (state.state, state.peer_serial, state.local_serial, state.matches) == (
        "following",
        42,
        42,
        True,
    )
    assert state.adopted == [42] and state.last_contact == clock.now


def test_the_same_revision_is_stored_once(peer, store, clock):
    peer.publish(42)
    following = follower(peer, store, clock)
    following.step()
    clock.now += 0.5
    assert following.step().adopted == []
    # Once it has the revision, the standby asks with what it has and gets no text back.
    assert peer.asked == ["", f"have=42:{digest(lvs_cf(42), {})}"]
    peer.publish(43, lvs_cf(43, weight=5))
    clock.now += 0.5
    assert following.step().adopted == [43]
    assert sorted(store.revisions) == [42, 43]


def test_an_unreachable_peer_leaves_the_last_good_revision_and_says_since_when(peer, store, clock):
    peer.publish(42)
    following = follower(peer, store, clock)
    following.step()
    contact = clock.now
    peer.down = ConnectionRefusedError(111, "Connection refused")
    clock.now += 3
    state = following.step()
    clock.now += 3
    state = following.step()
    assert store.revisions.keys() == {42}
    assert state.state == "unreachable" and "Connection refused" in state.reason
    assert state.failing_since == contact + 3 and state.last_contact == contact
    assert state.local_serial == 42 and state.matches is None
    peer.down = None
    clock.now += 1
    assert following.step().state == "following"
    assert following.state.failing_since is None


def test_a_peer_with_another_secret_is_not_believed(peer, store, clock):
    peer.publish(42)
    state = follower(peer, store, clock, secret=b"w" * 48).step()
    assert store.revisions == {}
    assert state.state == "rejected" and "HTTP 403" in state.reason


def test_an_answer_altered_by_a_man_in_the_middle_is_refused(peer, store, clock):
    peer.publish(41)
    following = follower(peer, store, clock)
    following.step()
    evil = lvs_cf(99, weight=100)
    peer.publish(42)
    peer.tamper = lambda body: json.dumps(
        {"serial": 99, "text": evil, "checks": {}, "digest": digest(evil, {})}
    ).encode()
    clock.now += 1
    state = following.step()
    assert store.revisions.keys() == {41}
    assert state.state == "rejected" and "signature" in state.reason


def test_a_replayed_old_answer_is_refused(peer, store, clock):
    # The man in the middle sends the answer to an earlier request: bound to another nonce.
    peer.publish(41)
    captured = {}
    real_get = peer.get

    def recording(url, headers, timeout):
        captured.setdefault("answer", real_get(url, headers, timeout))
        return captured["answer"]

    following = follower(peer, store, clock)
    peer.get = recording
    following.step()
    clock.now += 1
    state = following.step()
    assert state.state == "rejected" and "signature" in state.reason


def test_a_peer_file_that_does_not_parse_is_refused_naming_the_line(peer, store, clock):
    peer.publish(42, text="serial_no = 42\nvirtual web {\n    port = eighty\n}\n")
    state = follower(peer, store, clock).step()
    assert store.revisions == {}
    assert state.state == "rejected" and "line 3" in state.reason


def test_a_peer_with_nothing_published_leaves_the_standby_as_it_is(peer, store, clock):
    store.revisions[7] = (lvs_cf(7), {})
    state = follower(peer, store, clock).step()
    assert state.state == "following" and state.peer_serial is None and state.matches is None
    assert store.revisions.keys() == {7}


def test_a_diverged_standby_takes_the_peers_configuration_under_its_next_serial(peer, store, clock):
    store.revisions[50] = (lvs_cf(50, weight=9), {})  # published here while apart
    peer.publish(44, lvs_cf(44, weight=2))
    state = follower(peer, store, clock).step()
    assert state.adopted == [51]
    text, _checks = store.revisions[51]
    assert parse(text)[0].serial_no == 51
    assert parse(text)[0].virtuals[0].servers[0].weight == 2
    assert state.matches is True and (state.peer_serial, state.local_serial) == (44, 51)


def test_equal_content_under_an_older_peer_serial_is_not_stored_again(peer, store, clock):
    store.revisions[51] = (lvs_cf(51, weight=2), {})
    peer.publish(44, lvs_cf(44, weight=2))
    state = follower(peer, store, clock).step()
    assert state.adopted == [] and state.matches is True


def test_the_directors_talk_directly_whatever_proxy_the_environment_names(monkeypatch):
    import socket

    from monitoring.peersync.follow import PeerError, UrllibTransport

    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(1)
    proxy.settimeout(0.2)
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.getsockname()[1]}")
    monkeypatch.setenv("no_proxy", "")
    client = PeerClient("http://127.0.0.1:9", SECRET, transport=UrllibTransport(), clock=Clock())
    try:
        with pytest.raises(PeerError, match="refused"):
            client.fetch()
        with pytest.raises(TimeoutError):
            proxy.accept()  # nobody went through the proxy
    finally:
        proxy.close()
