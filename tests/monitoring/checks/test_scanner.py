"""The batch TCP-connect prober, against real sockets on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from monitoring.checks.probes import ProbeResult
from monitoring.checks.scanner import ConnectScanner, Watched
from monitoring.metrics.counters import LATENCY_BUCKETS, Histogram
from tests.support.descriptors import descriptors_left


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
            # Late from when every connect is started (more of them than one poll returns): the
            # scanner's next look at the clock, after its polls, is past every deadline.
            started = not instance.queue and instance.checks >= count
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


def test_a_check_that_cannot_open_a_socket_is_reported_down_and_the_scanner_goes_on(
    scanner,
) -> None:
    # Out of descriptors (a director at its limit): the check fails with the reason, and the
    # scanner's thread is still there for the next check.
    instance, results = scanner
    server = listener()
    port = server.getsockname()[1]
    with descriptors_left(0):
        instance.submit("starved", "127.0.0.1", port, 2.0)
        (result,) = results.wait("starved")
    assert not result.ok and result.reason == "cannot open: Too many open files"
    instance.submit("after", "127.0.0.1", port, 2.0)
    assert results.wait("after")[0].ok
    server.close()


def test_closing_stops_the_thread_in_the_middle_of_a_long_step(monkeypatch) -> None:
    # The thread waits in C until its next look for expired connects: an hour here. close()
    # must bring it back, not leave it polling an epoll that close() then shuts (its number
    # would go to the next scanner's, whose events the old thread would take).
    from monitoring.checks import scanner as module

    monkeypatch.setattr(module, "EXPIRY_EVERY", 3600.0)
    instance = ConnectScanner(Results().deliver)
    time.sleep(module.SLOT * 10)  # inside flights.step by now
    instance.close()
    assert not instance.thread.is_alive()


# --- checks on the scanner's own schedule (watch) ---------------------------------------------
class Stamp:
    """What the health book keeps of one real server, as far as a quiet pass touches it."""

    def __init__(self) -> None:
        self.last_check: float | None = None
        self.latency: float | None = None


def wait_until(condition, timeout: float = 10.0) -> None:
    """Poll a condition the scanner's own schedule makes true (its interval here: 0.2 s)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the scanner never got there"
        time.sleep(0.02)


class Reports(Results):
    """Every report in order (a watched check reports more than once)."""

    def __init__(self) -> None:
        super().__init__()
        self.all: list[tuple[object, ProbeResult]] = []

    def deliver(self, batch) -> None:
        with self.event:
            self.all.extend(batch)
        super().deliver(batch)


@pytest.fixture
def watching() -> Iterator[tuple[ConnectScanner, Reports, Histogram]]:
    reports, latencies = Reports(), Histogram(LATENCY_BUCKETS)
    instance = ConnectScanner(reports.deliver, latencies)
    yield instance, reports, latencies
    instance.close()


def watched(port: int, stamp: Stamp, quiet_after: int = 2, sharers=()) -> Watched:
    return Watched(stamp, sharers, "127.0.0.1", port, 0.2, quiet_after)


def test_a_check_that_keeps_passing_is_reported_until_it_goes_quiet_then_only_stamped(
    watching,
) -> None:
    instance, reports, latencies = watching
    server, stamp = listener(backlog=128), Stamp()
    instance.watch({"db1": watched(server.getsockname()[1], stamp, quiet_after=2)})
    wait_until(lambda: instance.checks >= 6)
    time.sleep(0.05)  # the sixth check's answer
    # The event loop hears of the first two passes (what a return needs), not of the others...
    assert [(token, result.ok) for (token, _due), result in reports.all] == [(stamp, True)] * 2
    # ...which stamp the server's last check and latency, and count in the latency histogram.
    first_stamp = stamp.last_check
    wait_until(lambda: stamp.last_check != first_stamp)
    assert stamp.latency is not None and stamp.latency >= 0
    assert sum(latencies.counts) >= 4 and latencies.sum > 0
    server.close()


def test_a_failure_is_reported_at_once_and_the_passes_after_it_until_quiet_again(
    watching,
) -> None:
    instance, reports, _ = watching
    server, stamp = listener(backlog=128), Stamp()
    port = server.getsockname()[1]
    instance.watch({"db1": watched(port, stamp, quiet_after=2)})
    wait_until(lambda: instance.checks >= 4)  # quiet by now
    server.close()
    wait_until(lambda: any(not result.ok for _, result in reports.all))
    again = socket.socket()
    again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    again.bind(("127.0.0.1", port))
    again.listen(128)
    reported = lambda: [r.ok for _, r in reports.all]  # noqa: E731
    wait_until(lambda: reported()[-2:] == [True, True] and False in reported())
    checks = instance.checks
    wait_until(lambda: instance.checks >= checks + 3)
    oks = reported()
    # Two passes, then every failure, then exactly the two passes a return needs (rise 2).
    failures = oks.count(False)
    assert failures >= 1 and oks == [True, True] + [False] * failures + [True, True]
    assert all(r.reason == "connection refused" for _, r in reports.all if not r.ok)
    again.close()


def test_a_new_set_keeps_unchanged_checks_on_schedule_and_stops_the_ones_gone(watching) -> None:
    instance, reports, _ = watching
    server = listener(backlog=128)
    port = server.getsockname()[1]
    kept_stamp, gone_stamp = Stamp(), Stamp()
    instance.watch({"a": watched(port, kept_stamp, 1), "b": watched(port, gone_stamp, 1)})
    wait_until(lambda: gone_stamp.last_check is not None and kept_stamp.last_check is not None)
    kept = instance.watches["a"]
    instance.watch({"a": watched(port, kept_stamp, 1)})
    wait_until(lambda: "b" not in instance.watches)
    time.sleep(0.3)  # any check of b in flight has answered
    gone_at, kept_at = gone_stamp.last_check, kept_stamp.last_check
    wait_until(lambda: kept_stamp.last_check != kept_at)
    time.sleep(0.5)
    assert gone_stamp.last_check == gone_at  # b is checked no more
    assert instance.watches["a"] is kept  # a kept its place in the schedule
    server.close()


def test_a_check_changed_in_a_new_set_starts_over_and_reports_again(watching) -> None:
    instance, reports, _ = watching
    server, stamp = listener(backlog=128), Stamp()
    port = server.getsockname()[1]
    instance.watch({"db1": watched(port, stamp, quiet_after=1)})
    wait_until(lambda: instance.checks >= 3)
    assert len(reports.all) == 1
    instance.watch({"db1": watched(port, stamp, quiet_after=2)})  # a new rise
    wait_until(lambda: len(reports.all) == 3)
    checks = instance.checks
    wait_until(lambda: instance.checks >= checks + 2)
    assert len(reports.all) == 3
    server.close()


def test_a_quiet_pass_stamps_every_real_server_the_check_stands_for(watching) -> None:
    instance, reports, _ = watching
    server, checked, sharer = listener(backlog=128), Stamp(), Stamp()
    instance.watch({"db1": watched(server.getsockname()[1], checked, 1, (sharer,))})
    # Both stamped by the quiet passes after the one report (rise 1), with the same check.
    wait_until(
        lambda: (
            sharer.last_check is not None
            and (checked.last_check, checked.latency) == (sharer.last_check, sharer.latency)
        )
    )
    assert [token for (token, _due), _ in reports.all] == [checked]
    server.close()
