"""A batch TCP-connect prober: one epoll in one thread for every plain connect check, on a
schedule of its own.

An asyncio task per check costs about 0.3 ms of CPU, too much for 10,000 servers every 2 s on a
quarter of a core. Here a check is a non-blocking connect, an epoll event and a close, and the
plain ones (nearly all) are started, answered and, when quiet, put back on the wheel in C
(_plainconnect.c says why). The worker hands the scanner its plain connect checks once per
configuration (watch()); the scanner runs each every interval from a timing wheel and tells the
worker's event loop only what can change a real server's state: every failure, and the passes
after one until `quiet_after` of them in a row brought the server back (the health book's rise).
Later passes are quiet: they stamp the servers' last check and latency and count the latency,
and nothing else. With the event loop scheduling and recording each of 5,000 checks a second,
the loop cost as much CPU as the scanner itself (bench/bench_worker.py).

A real server with a check through the forwarding path (lvsconf.paths) gets two connects at
once, to its own address and, marked, to the VIP; one verdict is delivered when both are in.

A check that connected is ended with a reset, as HAProxy ends its health checks: an orderly
close would leave the director one TIME_WAIT socket per check for a minute, and at thousands of
checks a second that fills the kernel's TIME_WAIT table and the ephemeral ports towards each real
server. Python's sockets are closed with SO_LINGER 0; the C path disconnects its sockets instead
and keeps them for the next connects (_plainconnect.c: a quarter less kernel time a check).

Like HAProxy's, a plain connect check turns TCP_QUICKACK off before connecting, so the kernel
holds back the handshake's last ACK, and the reset ends the connection before the real server
completes it: its kernel never builds a connection for the application to accept, log and
close, and the director sends one packet fewer. Measured with strace on both (1,000 listeners,
~58,000 checks): the same syscalls per check save for this setsockopt, 17% less kernel time in
the scanner, and the listeners accept nothing.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from monitoring.checks._plainconnect import Flights, Watch
from monitoring.checks.probes import ProbeResult, both_ways, path_socket
from virtualservers.lvsconf.paths import PathCheck

_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # struct linger {l_onoff = 1, l_linger = 0}
_LINGER = (socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
_QUICKACK = (socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
_STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
_FAILED = select.EPOLLERR | select.EPOLLHUP
_WATCHED = select.EPOLLOUT | _FAILED
READY_AT_ONCE = 1024  # events one poll returns at most (_plainconnect.c's)
SLOT = 0.01  # the timing wheel's slot, seconds: also the longest epoll wait
EXPIRY_EVERY = 0.05  # seconds between looks for connects past their timeout
_STOP = object()  # queued by close(): the thread comes back to see it is to stop

log = logging.getLogger(__name__)


class Stamped(Protocol):
    """What a quiet pass updates: the health book's record of one real server."""

    last_check: float | None
    latency: float | None


class LatencyCounts(Protocol):
    """Where quiet passes count their latency: a histogram's buckets (metrics.counters)."""

    bounds: tuple[float, ...]
    counts: list[int]
    sum: float

    def observe(self, value: float) -> None: ...


class Watched(NamedTuple):
    """A plain connect check the scanner runs every `timeout` seconds (lvs.cf's timeout is both
    the interval and the connect's limit, as nanny's), first in `first_in` seconds."""

    # The real server checked: a quiet pass stamps it, and it is reported back as (token, the
    # time the check was due) with its results.
    token: Stamped
    # The other real servers this one check stands for (shared ones), stamped with it: nearly
    # always none, the shared empty tuple (a tuple of the server itself for each of 10,000 was
    # 0.48 MB).
    sharers: Sequence[Stamped]
    address: str
    port: int
    timeout: float
    quiet_after: int  # passes in a row reported before passes go quiet (the rise threshold)
    path: PathCheck | None = None  # also checked through the forwarding path, once it is ready
    first_in: float = 0.0


class _Watch(Watch):
    """One check on the wheel (or in flight: never both). `live` goes False when the worker
    stops watching it; a result that comes in after is dropped. Its fields live in C
    (_plainconnect.Watch, with the socket address read once): token, sharers, address, port,
    family, timeout, quiet_after, path, due, streak, live, once."""

    __slots__ = ()

    def same(self, check: Watched) -> bool:
        """Whether `check` is this check (then it keeps its place in the schedule)."""
        return (
            self.address == check.address
            and self.port == check.port
            and self.timeout == check.timeout
            and self.quiet_after == check.quiet_after
            and self.path == check.path
        )


class _Both:
    """A check made both ways: the direct connect's result waits for the path's, or the
    other way round."""

    __slots__ = ("path", "direct", "through")

    def __init__(self, path: PathCheck) -> None:
        self.path = path
        self.direct: ProbeResult | None = None
        self.through: ProbeResult | None = None


def _close_with_reset(sock: socket.socket) -> None:
    sock.setsockopt(*_LINGER)
    sock.close()


class ConnectScanner:
    """watch({key: Watched}) hands over the checks to run on the scanner's schedule (replacing
    the previous set; a check whose address, port, timeout, threshold and path are unchanged
    keeps its place in the schedule); submit(token, address, port, timeout) runs one check once.
    `deliver(list[(token, ProbeResult)])` is called from the scanner thread with what is
    reported (the worker appends the batch to a deque its loop empties). path_ready(path):
    whether a check may go through the path yet (its private service is in the kernel).

    Plain checks to an address literal are connected, answered and expired by _plainconnect
    (C); the rest (checks through the forwarding path, checks run once, other addresses) on
    Python sockets in `pending`, on the same epoll."""

    def __init__(
        self,
        deliver: Callable[[list[tuple[object, ProbeResult]]], None],
        latencies: LatencyCounts | None = None,
        path_ready: Callable[[PathCheck], bool] = lambda path: True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.deliver = deliver
        self.latencies = latencies
        self.path_ready = path_ready
        self.clock = clock  # the health book's clock, for the last-check stamps
        # What the other threads hand over: (token, address, port, timeout, path) to run once,
        # or a dict of Watched, the new set to run on the schedule.
        self.queue: deque = deque()
        self.pending: dict[int, tuple[socket.socket, _Watch, float, tuple | None]] = {}
        self.watches: dict[object, _Watch] = {}
        self.checks = 0  # connects started (checks made both ways count two)
        self.epoll = select.epoll()
        # The timing wheel and the plain connects in flight, in C.
        self.flights = Flights(self.epoll.fileno(), _Watch, SLOT)
        self.running = True
        self.thread = threading.Thread(
            target=self._run, name="lvsadmin-connect-scanner", daemon=True
        )
        self.thread.start()

    def watch(self, checks: dict[object, Watched]) -> None:
        self.queue.append(dict(checks))

    def submit(
        self,
        token: object,
        address: str,
        port: int,
        timeout: float,
        path: PathCheck | None = None,
    ) -> None:
        self.queue.append((token, address, port, timeout, path))

    def close(self) -> None:
        self.running = False
        # Anything queued brings the thread back from flights.step within a slot.
        self.queue.append(_STOP)
        self.thread.join(timeout=5)
        if self.thread.is_alive():
            # Never closed under a thread still polling: its epoll's number could be handed to
            # another's, and its sockets' numbers to anyone.
            log.error("the connect scanner's thread did not stop within 5 s; its sockets stay")
            return
        for sock, *_ in self.pending.values():
            sock.close()
        self.flights.close()
        self.epoll.close()

    # --- on the scanner's thread ------------------------------------------------------------
    def _handed(self, item, now: float, results: list) -> None:
        if item is _STOP:
            return
        if isinstance(item, dict):
            self._rewatch(item, now)
            return
        token, address, port, timeout, path = item
        once = _Watch(token, (), address, port, timeout, 1 << 30, path, now, True)
        self._started(*self.flights.launch([once], now), now, results)

    def _rewatch(self, checks: dict[object, Watched], now: float) -> None:
        old, self.watches = self.watches, {}
        for key, check in checks.items():
            kept = old.pop(key, None)
            if kept is not None and kept.same(check):
                kept.token, kept.sharers = check.token, check.sharers
                self.watches[key] = kept
                continue
            if kept is not None:
                kept.live = False
            watch = _Watch(check.token, check.sharers, check.address, check.port, check.timeout,
                           check.quiet_after, check.path, now + check.first_in, False)  # fmt: skip
            self.watches[key] = watch
            self._put(watch)
        for gone in old.values():
            gone.live = False

    def _started(
        self, started: int, others: list[_Watch], at_once: list, now: float, results: list
    ) -> None:
        """After _plainconnect started the plain checks due: the others started here, and the
        results of connects that did not wait."""
        self.checks += started
        for watch in others:
            self._launch(watch, now, results)  # counts its own connects
        self._plain_results(at_once, results)

    def _plain_results(self, done: list, results: list) -> None:
        """What _plainconnect reports: (watch, started, ok, code, latency) of its connects."""
        for watch, started, ok, code, latency in done:
            if ok:
                result = ProbeResult(True, latency)
            else:
                result = ProbeResult(False, latency, _reason(code))
            self._half_done(watch, started, None, result, results)

    def _launch(self, watch: _Watch, now: float, results: list) -> None:
        path = watch.path
        if path is not None and not self.path_ready(path):
            path = None
        if path is None:
            self._connect(watch, now, None, results)
            return
        both = _Both(path)
        self._connect(watch, now, (both, False), results)
        self._connect(watch, now, (both, True), results)

    def _connect(self, watch: _Watch, now: float, half: tuple | None, results: list) -> None:
        self.checks += 1
        if half is None or not half[1]:
            try:
                sock = socket.socket(watch.family, _STREAM)
            except OSError as exc:
                self._half_done(watch, now, half, _failed(f"cannot open: {exc.strerror}"), results)
                return
            sock.setsockopt(*_QUICKACK)  # see the docstring
            target = (watch.address, watch.port)
        else:
            path = half[0].path
            try:
                sock = path_socket(path)
            except OSError as exc:
                self._half_done(watch, now, half, _failed(f"cannot open: {exc.strerror}"), results)
                return
            sock.setblocking(False)
            target = (path.vip, watch.port)
        code = sock.connect_ex(target)
        if code == errno.EINPROGRESS:
            fd = sock.fileno()
            self.pending[fd] = (sock, watch, now, half)
            self.epoll.register(fd, _WATCHED)
            return
        if code == 0:
            _close_with_reset(sock)
            result = ProbeResult(True, time.monotonic() - now)
        else:
            sock.close()
            result = ProbeResult(False, time.monotonic() - now, _reason(code))
        self._half_done(watch, now, half, result, results)

    def _answered_here(self, ready: list[tuple[int, int]], results: list) -> None:
        """Answers on the Python sockets in `pending`."""
        now = time.monotonic()
        for fd, events in ready:
            item = self.pending.pop(fd, None)
            if item is None:
                continue
            sock, watch, started, half = item
            # Closing the socket takes it out of the epoll set: no unregister call needed.
            if events & _FAILED:
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                sock.close()
                result = ProbeResult(False, now - started, _reason(code))
            else:
                _close_with_reset(sock)
                result = ProbeResult(True, now - started)
            self._half_done(watch, started, half, result, results)

    def _half_done(
        self, watch: _Watch, started: float, half: tuple | None, result: ProbeResult, results
    ) -> None:
        """One connect's result: with the other half's when made both ways, then reported, or
        quiet (see the docstring) as _plainconnect's plain passes are."""
        if half is not None:
            both, through = half
            if through:
                both.through = result
            else:
                both.direct = result
            if both.direct is None or both.through is None:
                return
            result = both_ways(both.direct, both.through, both.path)
        if watch.once:
            results.append((watch.token, result))
            return
        if not watch.live:
            return
        watch.streak = watch.streak + 1 if result.ok else 0
        if result.ok and watch.streak > watch.quiet_after:
            self._quiet(watch, result.latency)
        else:
            results.append(((watch.token, watch.due), result))
        self._again(watch, time.monotonic())

    def _quiet(self, watch: _Watch, latency: float) -> None:
        """A pass nobody needs to hear of: the servers stamped, its latency counted."""
        wall = self.clock()
        watch.token.last_check, watch.token.latency = wall, latency
        for server in watch.sharers:
            server.last_check, server.latency = wall, latency
        if self.latencies is not None:
            self.latencies.observe(latency)

    def _again(self, watch: _Watch, now: float) -> None:
        """Back on the wheel, one interval after it was due (at once if that is past)."""
        due = watch.due + watch.timeout
        watch.due = due if due > now else now
        self._put(watch)

    def _put(self, watch: _Watch) -> None:
        self.flights.put(watch)  # at the slot after its due

    def _expired(self, now: float, results: list) -> None:
        expired = [
            fd for fd, (_, watch, started, _) in self.pending.items()
            if started + watch.timeout <= now
        ]  # fmt: skip
        gone = [(watch, started, None) for watch, started in self.flights.expired(now)]
        for fd in expired:
            sock, watch, started, half = self.pending.pop(fd)
            sock.close()
            gone.append((watch, started, half))
        for watch, started, half in gone:
            reason = f"connect timed out after {watch.timeout:g} s"
            self._half_done(
                watch, started, half, ProbeResult(False, now - started, reason), results
            )

    def _run(self) -> None:
        """flights.step runs the wheel and the plain connects in C, quiet passes included, and
        comes back with what is for Python, at the latest at the next look for expired
        connects."""
        next_expiry = time.monotonic() + EXPIRY_EVERY
        queue, step = self.queue, self.flights.step
        while self.running:
            results: list[tuple[object, ProbeResult]] = []
            now = time.monotonic()
            while queue:
                self._handed(queue.popleft(), now, results)
            started, others, fds, reported, at_once = step(
                queue, self.clock, self.latencies, next_expiry
            )
            now = time.monotonic()
            self._started(started, others, at_once, now, results)
            if fds:
                self._answered_here(fds, results)
            self._plain_results(reported, results)
            now = time.monotonic()
            if now >= next_expiry:
                next_expiry = now + EXPIRY_EVERY
                self._expired(now, results)
            if results:
                self.deliver(results)


def _failed(reason: str) -> ProbeResult:
    return ProbeResult(False, 0.0, reason)


def _reason(code: int) -> str:
    """An errno's text; 0: the connection closed without one (EPOLLHUP); negative: no socket
    could be opened (_plainconnect's code)."""
    if code == 0:
        return "connection closed"
    if code < 0:
        return f"cannot open: {os.strerror(-code)}"
    if code == errno.ECONNREFUSED:
        return "connection refused"
    return os.strerror(code)
