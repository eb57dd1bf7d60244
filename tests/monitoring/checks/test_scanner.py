"""The batch TCP-connect prober, against real sockets on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from monitoring.checks.probes import ProbeResult
from monitoring.checks.scanner import ConnectScanner


class Results:
    def __init__(self) -> None:
        self.got: dict[object, ProbeResult] = {}
        self.event = threading.Condition()

    def deliver(self, batch: list[tuple[object, ProbeResult]]) -> None:
        with self.event:
            self.got.update(batch)
            self.event.notify_all()

    def wait(self, *tokens: object, timeout: float = 10) -> list[ProbeResult]:
        with self.event:
            assert self.event.wait_for(lambda: all(t in self.got for t in tokens), timeout)
            return [self.got[t] for t in tokens]


@pytest.fixture
def scanner() -> Iterator[tuple[ConnectScanner, Results]]:
    results = Results()
    instance = ConnectScanner(results.deliver)
    yield instance, results
    instance.close()


def listener(backlog: int = 16) -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    return sock


def check_many(scanner, port: int, count: int) -> None:
    """`count` checks of one listening port at once, all of them up."""
    instance, results = scanner
    tokens = list(range(count))
    for token in tokens:
        instance.submit(token, "127.0.0.1", port, 2.0)
    assert all(r.ok for r in results.wait(*tokens))


def time_wait_sockets_to(port: int) -> int:
    """TIME_WAIT entries in the kernel's table whose remote port is `port` (state 06)."""
    count = 0
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            remote_port = int(fields[2].split(":")[1], 16)
            if remote_port == port and fields[3] == "06":
                count += 1
    return count


def test_it_sees_a_listening_server_as_up(scanner) -> None:
    instance, results = scanner
    server = listener()
    port = server.getsockname()[1]
    instance.submit("a", "127.0.0.1", port, 2.0)
    (result,) = results.wait("a")
    assert result.ok and result.reason == ""
    server.close()


def test_it_leaves_no_time_wait_socket_behind_on_the_director(scanner) -> None:
    server = listener(backlog=128)
    port = server.getsockname()[1]
    check_many(scanner, port, 50)
    # An orderly close would leave 50 TIME_WAIT sockets here for a minute; a reset leaves none.
    assert time_wait_sockets_to(port) == 0
    server.close()


def accepted(server: socket.socket) -> int:
    """Connections the real server's application would have been handed (accept())."""
    server.setblocking(False)
    count = 0
    while True:
        try:
            conn, _ = server.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def test_a_check_never_reaches_the_real_servers_application(scanner) -> None:
    # As HAProxy's connect checks: the SYN-ACK proves the port open; the handshake's last ACK
    # is held back (TCP_QUICKACK off) and the reset ends it, so the real server's kernel never
    # creates a connection for the application to accept, log and close.
    server = listener(backlog=128)
    check_many(scanner, server.getsockname()[1], 20)
    # A check whose thread was slower than the delayed-ACK timer (40 ms) may still complete
    # the handshake on a loaded machine: most must not.
    assert accepted(server) < 20 // 2
    server.close()


def test_it_reports_a_refused_connection(scanner) -> None:
    instance, results = scanner
    server = listener()
    port = server.getsockname()[1]
    server.close()
    instance.submit("gone", "127.0.0.1", port, 2.0)
    (result,) = results.wait("gone")
    assert not result.ok
    assert result.reason == "connection refused"


def test_it_times_out_a_server_that_never_completes_the_handshake(scanner) -> None:
    instance, results = scanner
    server = listener(backlog=0)
    port = server.getsockname()[1]
    # Fill the accept queue: further SYNs are dropped, so the next connect never completes.
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    instance.submit("stuck", "127.0.0.1", port, 0.5)
    (result,) = results.wait("stuck", timeout=10)
    assert not result.ok
    assert result.reason == "connect timed out after 0.5 s"
    assert result.latency >= 0.5
    for filler in fillers:
        filler.close()
    server.close()


def test_connected_checks_are_not_timed_out_when_more_are_ready_than_one_poll_returns(
    scanner, monkeypatch
) -> None:
    # The scanner's thread held up past the checks' deadline (a loaded machine) while more
    # connects completed than one epoll wait returns: every one of them connected in time.
    from monitoring.checks import scanner as module

    instance, results = scanner
    count = module.READY_AT_ONCE + 200
    server = listener(backlog=4096)
    real_monotonic = time.monotonic

    class Late:
        late = False

        @staticmethod
        def monotonic() -> float:
            # Late from when every connect is started, more of them pending than one poll returns.
            started = not instance.queue and len(instance.pending) > module.READY_AT_ONCE
            Late.late = Late.late or started
            return real_monotonic() + (60.0 if Late.late else 0.0)

    monkeypatch.setattr(module, "time", Late)
    port = server.getsockname()[1]
    tokens = list(range(count))
    # All at once, as the worker's tick hands them over: one poll cannot return them all.
    instance.queue.extend([(token, "127.0.0.1", port, 5.0, None) for token in tokens])
    got = results.wait(*tokens, timeout=30)
    assert [r.reason for r in got if not r.ok] == []
    server.close()
