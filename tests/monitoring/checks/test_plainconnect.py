"""The connect scanner's C hot path (_plainconnect), driven by hand against real sockets on
loopback: what it starts, what it keeps quiet, what it hands back, and what it leaves open."""

from __future__ import annotations

import contextlib
import errno
import gc
import os
import select
import socket
import struct
import subprocess
import sys
import textwrap
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitoring.checks._plainconnect import Flights, Watch
from monitoring.metrics.counters import LATENCY_BUCKETS, Histogram
from tests.support.descriptors import descriptors_left

SLOT = 0.01
READY_AT_ONCE = 1024  # _plainconnect.c's batch for one poll
SPARE_MAX = 256  # _plainconnect.c's: spare sockets kept per address family
ROOT = Path(__file__).resolve().parents[3]


class Stamp:
    def __init__(self) -> None:
        self.last_check: float | None = None
        self.latency: float | None = None


class Bench:
    """An epoll and the flights on it, as the scanner holds them."""

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.flights = Flights(self.epoll.fileno(), Watch, SLOT)
        self.histogram = Histogram(LATENCY_BUCKETS)
        self.queue: deque = deque()

    def step(self, timeout: float = 1.0, clock=lambda: 1234.5):
        """One step, back at the latest `timeout` seconds from now."""
        until = time.monotonic() + timeout
        return self.flights.step(self.queue, clock, self.histogram, until)

    def answer_all(self) -> list:
        """Step until no connect is in flight; what was reported (not quiet)."""
        reported: list = []
        deadline = time.monotonic() + 10
        while self.flights.in_flight() > 0:
            assert time.monotonic() < deadline, "connects never answered"
            _, others, fds, got, at_once = self.step(0.1)
            assert others == [] and fds == []
            reported += got + at_once
        return reported

    def close(self) -> None:
        self.flights.close()
        self.epoll.close()


@pytest.fixture
def bench() -> Iterator[Bench]:
    # Sockets an earlier test left for the garbage collector closed now, not in the middle of
    # a test that counts this process's descriptors.
    gc.collect()
    instance = Bench()
    yield instance
    instance.close()


def listener(address: str = "127.0.0.1", backlog: int = 4096) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family)
    sock.bind((address, 0))
    sock.listen(backlog)
    return sock


def watch(port: int, address: str = "127.0.0.1", quiet_after: int = 0, due: float = 100.0,
          path: object = None, timeout: float = 2.0, token: object = None, sharers=()) -> Watch:  # fmt: skip
    return Watch(token if token is not None else Stamp(), sharers, address, port, timeout,
                 quiet_after, path, due, False)  # fmt: skip


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def half_open(port: int) -> int:
    """Connections to this local port that the real server's kernel still holds half-open
    (SYN_RECV: it sent its SYN-ACK and waits), from /proc/net/tcp and tcp6."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as lines:
            next(lines)
            for line in lines:
                local, _, state = line.split()[1:4]
                count += int(local.rsplit(":", 1)[1], 16) == port and state == "03"
    return count


@contextlib.contextmanager
def loopback_capture() -> Iterator[socket.socket]:
    """Every frame this host sends on loopback from now on (a packet socket: the tests run as
    root, as the worker does)."""
    capture = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    capture.bind(("lo", 0))
    capture.setblocking(False)
    try:
        yield capture
    finally:
        capture.close()


def syn_sequences(capture: socket.socket, port: int) -> list[int]:
    """The initial sequence numbers of the IPv4 SYNs sent to this port, in order."""
    sequences = []
    while True:
        try:
            frame, (_, _, kind, *_) = capture.recvfrom(65535)
        except BlockingIOError:
            return sequences
        if kind != socket.PACKET_OUTGOING or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue  # each frame is seen going out and coming in; IPv4 TCP only
        tcp = 14 + (frame[14] & 0x0F) * 4
        destination, sequence = struct.unpack("!HI", frame[tcp + 2 : tcp + 8])
        if destination == port and frame[tcp + 13] & 0x12 == 0x02:  # SYN without ACK
            sequences.append(sequence)


def check_one(bench: Bench, check: Watch) -> list:
    """Launch one check and answer it: what was reported."""
    _, _, at_once = bench.flights.launch([check], time.monotonic())
    return at_once + bench.answer_all()


def test_a_quiet_pass_is_stamped_counted_and_put_back_on_the_wheel_without_a_report(bench):
    server = listener()
    sharer = Stamp()
    due = time.monotonic()
    check = watch(server.getsockname()[1], sharers=(sharer,), due=due)
    bench.flights.put(check)
    assert bench.flights.on_wheel() == 1
    started = 0
    while not started:  # its slot comes within 0.01 s
        started, others, fds, reported, at_once = bench.step(0.05)
        assert (others, fds, reported, at_once) == ([], [], [], [])
    assert started == 1 and bench.answer_all() == []
    assert check.token.last_check == 1234.5 and sharer.last_check == 1234.5
    assert 0 <= check.token.latency < 2.0 and sharer.latency == check.token.latency
    assert sum(bench.histogram.counts) == 1 and bench.histogram.sum == check.token.latency
    assert check.streak == 1
    # Back on the wheel, due one interval after it was due; it starts again then.
    assert bench.flights.on_wheel() == 1 and check.due == due + 2.0
    again = 0
    while not again:
        again, *_ = bench.step(0.1)
    assert time.monotonic() >= due + 2.0
    server.close()


def test_the_passes_of_a_rise_and_a_watch_no_longer_live_are_reported_not_kept_quiet(bench):
    server = listener()
    port = server.getsockname()[1]
    rising, gone = watch(port, quiet_after=2), watch(port)
    gone.live = False  # stopped being watched before its turn
    now = time.monotonic()
    assert bench.flights.launch([rising, gone, watch(port)], now)[0] == 2  # not `gone`
    gone_in_flight = watch(port)
    bench.flights.launch([gone_in_flight], now)
    gone_in_flight.live = False  # stopped being watched while in flight
    reported = bench.answer_all()
    assert sorted((r[0] is rising, r[0] is gone_in_flight, r[2], r[3]) for r in reported) == [
        (False, True, True, 0),
        (True, False, True, 0),
    ]
    assert rising.token.last_check is None  # a reported pass is stamped by the scanner
    assert rising.streak == 0  # and counted there
    assert bench.flights.on_wheel() == 1  # only the quiet one is back on the wheel
    server.close()


def test_a_watch_stopped_while_on_the_wheel_is_dropped_at_its_turn(bench):
    server = listener()
    check = watch(server.getsockname()[1], due=time.monotonic())
    bench.flights.put(check)
    check.live = False
    bench.step(0.05)
    assert bench.flights.on_wheel() == 0 and bench.flights.in_flight() == 0
    server.close()


def test_a_refused_connect_is_reported_with_its_errno(bench):
    server = listener()
    port = server.getsockname()[1]
    server.close()  # nothing listens there now
    check = watch(port)
    _, _, at_once = bench.flights.launch([check], time.monotonic())
    reported = at_once + bench.answer_all()
    ((got, _, ok, code, latency),) = reported
    assert (got, ok, code) == (check, False, errno.ECONNREFUSED)
    assert latency >= 0


def test_ipv6_literals_are_connected_here_and_other_checks_are_handed_back(bench):
    server = listener("::1")
    plain6 = watch(server.getsockname()[1], address="::1")
    scoped = watch(80, address="fe80::1%lo")  # inet_pton does not read a scope
    named = watch(80, address="localhost")
    through_path = watch(80, path=("a path check",))
    assert plain6.native and not scoped.native and not named.native
    assert not through_path.native
    started, others, _ = bench.flights.launch([plain6, scoped, named, through_path], 1.0)
    assert started == 1 and others == [scoped, named, through_path]
    assert bench.answer_all() == []
    assert plain6.token.last_check == 1234.5
    # Due on the wheel, they come back from step the same way.
    for check in (scoped, named, through_path):
        check.due = time.monotonic()
        bench.flights.put(check)
    others = []
    while not others:
        _, others, *_ = bench.step(0.05)
    assert others == [scoped, named, through_path]
    server.close()


def test_the_sockets_of_other_owners_on_the_epoll_are_handed_back_as_events(bench):
    server = listener()
    theirs = socket.socket()
    theirs.setblocking(False)
    theirs.connect_ex(server.getsockname())
    bench.epoll.register(theirs.fileno(), select.EPOLLOUT)
    _, others, fds, reported, at_once = bench.step()
    assert (others, fds, reported, at_once) == ([], [(theirs.fileno(), select.EPOLLOUT)], [], [])
    theirs.close()
    server.close()


def test_a_step_comes_back_when_the_queue_has_work_or_at_its_time(bench):
    bench.queue.append("work")
    started = time.monotonic()
    assert bench.step(60.0) == (0, [], [], [], [])
    assert time.monotonic() - started < 30  # not the minute asked for
    bench.queue.clear()
    until = time.monotonic() + 0.05
    bench.flights.step(bench.queue, lambda: 0.0, None, until)
    assert time.monotonic() >= until


def test_a_connect_that_never_completes_expires_and_its_socket_is_closed(bench):
    server = listener(backlog=0)
    port = server.getsockname()[1]
    # Fill the accept queue: further SYNs are dropped, so the next connect never completes.
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    before = open_descriptors()
    check = watch(port, timeout=0.5)
    bench.flights.launch([check], 50.0)
    assert bench.flights.in_flight() == 1 and open_descriptors() == before + 1
    assert bench.flights.expired(50.4) == []
    assert bench.flights.expired(50.5) == [(check, 50.0)]
    assert bench.flights.in_flight() == 0 and open_descriptors() == before
    for filler in fillers:
        filler.close()
    server.close()


def test_a_step_answers_every_connect_ready_even_past_one_polls_batch(bench):
    # After the thread was held up, more connects are ready than one poll returns: the step
    # takes them all before it comes back (the scanner's expiry follows it).
    server = listener()
    port = server.getsockname()[1]
    count = READY_AT_ONCE + 100
    checks = [watch(port) for _ in range(count)]
    started, _, at_once = bench.flights.launch(checks, time.monotonic())
    assert started == count and at_once == []
    time.sleep(0.2)  # every handshake over loopback done
    bench.step(0.0)
    assert bench.flights.in_flight() == 0
    assert all(check.token.last_check == 1234.5 for check in checks)
    assert sum(bench.histogram.counts) == count
    server.close()


def test_a_socket_that_cannot_be_opened_is_reported_as_such(bench):
    server = listener()
    port = server.getsockname()[1]
    with descriptors_left(2):
        started, _, at_once = bench.flights.launch([watch(port) for _ in range(5)], 1.0)
    assert started == 5
    assert [(ok, code) for _, _, ok, code, _ in at_once] == [(False, -errno.EMFILE)] * 3
    assert bench.answer_all() == []
    server.close()


def test_closing_closes_every_connect_in_flight_and_empties_the_wheel(bench):
    server = listener(backlog=0)
    port = server.getsockname()[1]
    before = open_descriptors()
    bench.flights.launch([watch(port, timeout=60) for _ in range(20)], 1.0)
    bench.flights.put(watch(port, due=time.monotonic() + 60))
    assert open_descriptors() == before + 20
    bench.flights.close()
    assert bench.flights.in_flight() == 0 and open_descriptors() == before
    assert bench.flights.on_wheel() == 0
    server.close()


def test_a_checked_socket_is_disconnected_with_a_reset_and_kept_for_the_next_connect(bench):
    server = listener()
    port = server.getsockname()[1]
    server.setblocking(False)
    before = open_descriptors()
    for _ in range(30):
        assert check_one(bench, watch(port)) == []  # quiet passes
    # One socket served the 30 checks, one after the other, and stays open for the next.
    assert bench.flights.spare() == 1 and open_descriptors() == before + 1
    # Disconnecting reset each connection as closing did: the real server's kernel holds none
    # half-open, and its application was handed none.
    assert half_open(port) == 0
    with pytest.raises(BlockingIOError):
        server.accept()
    server.close()


def test_a_spare_sockets_connects_start_at_unguessable_sequence_numbers_as_new_sockets_do(
    bench,
):
    # Disconnected, a socket's next connect starts where the last one left off plus a window:
    # whoever saw one check (a real server) could forge the answers to the next ones.
    server = listener()
    port = server.getsockname()[1]
    with loopback_capture() as capture:
        for _ in range(6):  # due far ahead: a quiet pass does not start it again here
            assert check_one(bench, watch(port, due=time.monotonic() + 60)) == []
        sequences = syn_sequences(capture, port)
    assert bench.flights.spare() == 1 and bench.flights.keeps_spares()  # one socket, reused
    assert len(sequences) == 6
    steps = [(b - a) % 2**32 for a, b in zip(sequences, sequences[1:], strict=False)]
    assert len(set(steps)) == 5, steps  # each drawn anew, not the last one's plus a window
    server.close()


def test_without_cap_net_admin_no_socket_is_kept_and_every_check_has_a_new_one():
    # Repair mode (the fresh sequence number) needs CAP_NET_ADMIN: a process without it (root
    # here, with that capability dropped) checks as before, a new socket a check.
    script = textwrap.dedent(
        """
        import select, socket, time
        from monitoring.checks._plainconnect import Flights, Watch

        class Stamp:
            last_check = latency = None

        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        epoll = select.epoll()
        flights = Flights(epoll.fileno(), Watch, 0.01)
        stamps = []
        for _ in range(3):
            stamp = Stamp()
            stamps.append(stamp)
            check = Watch(stamp, (), "127.0.0.1", server.getsockname()[1], 2.0, 0, None, 1.0, False)
            flights.launch([check], time.monotonic())
            while flights.in_flight():
                flights.step([], lambda: 99.0, None, time.monotonic() + 0.1)
        print(flights.spare(), flights.keeps_spares(), [s.last_check for s in stamps])
        """
    )
    dropped = ["setpriv", "--inh-caps=-net_admin", "--bounding-set=-net_admin"]
    run = subprocess.run(
        [*dropped, sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split(None, 2) == ["0", "False", "[99.0, 99.0, 99.0]\n"]


def test_a_spare_socket_connects_anew_after_a_refusal_and_after_a_pass(bench):
    server = listener()
    port = server.getsockname()[1]
    refusing = listener()
    closed_port = refusing.getsockname()[1]
    refusing.close()  # nothing listens there now
    outcomes = []
    for target in (closed_port, port, closed_port, closed_port, port, port):
        ((_, _, ok, code, _),) = check_one(bench, watch(target, quiet_after=10))  # reported
        outcomes.append((ok, code))
        assert bench.flights.spare() == 1
    refused, passed = (False, errno.ECONNREFUSED), (True, 0)
    assert outcomes == [refused, passed, refused, refused, passed, passed]
    server.close()


def test_spare_sockets_are_kept_per_address_family_and_closed_with_the_flights(bench):
    servers = [listener(), listener("::1")]
    before = open_descriptors()
    for _ in range(3):
        for server in servers:
            address, port = server.getsockname()[:2]
            check = watch(port, address=address)
            assert check_one(bench, check) == [] and check.token.last_check == 1234.5
    assert bench.flights.spare() == 2 and open_descriptors() == before + 2
    bench.flights.close()
    assert bench.flights.spare() == 0 and open_descriptors() == before
    for server in servers:
        server.close()


def test_no_more_spares_are_kept_than_the_limit(bench):
    server = listener()
    port = server.getsockname()[1]
    before = open_descriptors()
    started, _, _ = bench.flights.launch(
        [watch(port) for _ in range(SPARE_MAX + 40)], time.monotonic()
    )
    assert started == SPARE_MAX + 40 and bench.answer_all() == []
    assert bench.flights.spare() == SPARE_MAX and open_descriptors() == before + SPARE_MAX
    assert half_open(port) == 0  # the ones closed were reset too
    server.close()


def test_only_watches_are_launched_or_put_on_the_wheel(bench):
    with pytest.raises(TypeError, match="only watches"):
        bench.flights.launch([("127.0.0.1", 80)], 1.0)
    with pytest.raises(TypeError, match="only watches"):
        bench.flights.put(("127.0.0.1", 80))


def test_start_lags_are_recorded_only_when_asked(bench):
    server = listener()
    port = server.getsockname()[1]
    bench.flights.put(watch(port, due=time.monotonic()))
    while not bench.step(0.05)[0]:
        pass
    bench.flights.lags = lags = []
    due = time.monotonic()
    bench.flights.put(watch(port, due=due))
    while not bench.step(0.05)[0]:
        pass
    ((lag,),) = [lags]
    assert 0 <= lag <= time.monotonic() - due
    server.close()


def test_a_lag_that_cannot_be_recorded_stops_the_recording_not_the_checks(bench):
    server = listener()
    bench.flights.lags = ()  # no append
    bench.flights.put(watch(server.getsockname()[1], due=time.monotonic()))
    while not bench.step(0.05)[0]:
        pass
    assert bench.flights.lags is None and bench.flights.in_flight() + bench.flights.on_wheel()
    server.close()
