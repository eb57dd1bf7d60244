"""A webhook's timeout bounds the whole attempt (connect, send, reply), not each read: a receiver
on loopback that answers one byte at a time used to hold the notifier's webhook channel for as
long as it liked (440 s for a 5 s timeout in the probe), and every later message waited."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from monitoring.notify.channels import DeliveryError, WebhookChannel
from monitoring.notify.events import director_event
from monitoring.notify.message import Message

HEADERS = b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\nConnection: close\r\n\r\n"
BODY = b"x" * 40


class Trickle:
    """A loopback receiver that reads the request, then sends `fast` at once and `slow` one byte
    every `every` seconds."""

    def __init__(self, fast: bytes, slow: bytes, every: float) -> None:
        self.fast, self.slow, self.every = fast, slow, every
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.closing = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.closing.is_set():
            try:
                conn, _address = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(self.fast)
                for byte in self.slow:
                    if self.closing.wait(self.every):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return  # the client gave up and closed: what it should do

    def close(self) -> None:
        self.closing.set()
        self.listener.close()


@pytest.fixture
def trickle():
    made: list[Trickle] = []

    def make(fast: bytes, slow: bytes, every: float = 0.2) -> Trickle:
        made.append(Trickle(fast, slow, every))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def message() -> Message:
    return Message((director_event("lvs1", "MASTER", "BACKUP", at=1.0),), "lvs1", sent_at=2.0)


@pytest.mark.parametrize(
    ("fast", "slow"),
    [
        (b"", HEADERS + BODY),  # the status line and headers a byte at a time
        (HEADERS, BODY),  # the headers at once, then the body a byte at a time
    ],
    ids=["slow-headers", "slow-body"],
)
def test_a_receiver_answering_a_byte_at_a_time_is_cut_off_at_the_timeout(trickle, fast, slow):
    receiver = trickle(fast, slow)  # about 20 s (headers) or 8 s (body) to answer in full
    channel = WebhookChannel(receiver.url, timeout=1.0, retries=0)
    start = time.monotonic()
    with pytest.raises(DeliveryError, match=r"timed out \(1 attempt\)"):
        channel.deliver(message())
    assert time.monotonic() - start < 2.0


def test_an_https_receiver_stalling_the_handshake_is_cut_off_at_the_timeout(trickle):
    # A TLS record's header (a 16 KiB handshake record), then its body a byte at a time.
    receiver = trickle(b"\x16\x03\x03\x40\x00", b"\x00" * 100)
    channel = WebhookChannel(receiver.url.replace("http:", "https:"), timeout=1.0, retries=0)
    start = time.monotonic()
    with pytest.raises(DeliveryError, match=r"timed out \(1 attempt\)"):
        channel.deliver(message())
    assert time.monotonic() - start < 2.0


def test_each_retry_gets_its_own_whole_timeout(trickle):
    receiver = trickle(b"", HEADERS + BODY)
    channel = WebhookChannel(receiver.url, timeout=0.6, retries=1, backoff=0.1)
    start = time.monotonic()
    with pytest.raises(DeliveryError, match=r"timed out \(2 attempts\)"):
        channel.deliver(message())
    assert 1.2 <= time.monotonic() - start < 2.5


def test_a_receiver_that_answers_in_time_is_still_a_success(trickle):
    receiver = trickle(HEADERS, BODY, every=0.005)  # the whole answer in about 0.2 s
    assert WebhookChannel(receiver.url, timeout=2.0, retries=0).deliver(message()) == "HTTP 200"
