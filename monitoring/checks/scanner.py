"""A batch TCP-connect prober: one epoll in one thread for every plain connect check, on a
schedule of its own.

An asyncio task per check costs about 0.3 ms of CPU, too much for 10,000 servers every 2 s on a
quarter of a core. Here a check is a non-blocking connect, an epoll event and a close: a few
microseconds of Python. The worker hands the scanner its plain connect checks once per
configuration (watch()); the scanner runs each every interval from a timing wheel and tells the
worker's event loop only what can change a real server's state: every failure, and the passes
after one until `quiet_after` of them in a row brought the server back (the health book's rise).
Later passes are quiet: they stamp the servers' last check and latency and count the latency,
and nothing else. With the event loop scheduling and recording each of 5,000 checks a second,
the loop cost as much CPU as the scanner itself (bench/bench_worker.py).

A real server with a check through the forwarding path (lvsconf.paths) gets two connects at
once, to its own address and, marked, to the VIP; one verdict is delivered when both are in.

A check that connected is closed with a reset (SO_LINGER 0), as HAProxy closes its health
checks: an orderly close would leave the director one TIME_WAIT socket per check for a minute,
and at thousands of checks a second that fills the kernel's TIME_WAIT table and the ephemeral
ports towards each real server.

Like HAProxy's, a plain connect check turns TCP_QUICKACK off before connecting, so the kernel
holds back the handshake's last ACK, and the reset ends the connection before the real server
completes it: its kernel never builds a connection for the application to accept, log and
close, and the director sends one packet fewer. Measured with strace on both (1,000 listeners,
~58,000 checks): the same syscalls per check save for this setsockopt, 17% less kernel time in
the scanner, and the listeners accept nothing.
"""

from __future__ import annotations

import _socket
import errno
import os
import select
import socket
import struct
import threading
import time
from bisect import bisect_left
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from monitoring.checks.probes import ProbeResult, both_ways, path_socket
from virtualservers.lvsconf.paths import PathCheck

_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # struct linger {l_onoff = 1, l_linger = 0}
# socket.socket is a Python subclass of the C type whose __init__ and close() add two Python
# calls to every check; the scanner only needs the C type's connect_ex, setsockopt and close
# (bench/bench_worker.py: a fifth of the scanner's user time per connect).
_PLAIN = _socket.socket
_STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
_TCP, _QUICKACK_OPTION = socket.IPPROTO_TCP, socket.TCP_QUICKACK
_QUICKACK = (_TCP, _QUICKACK_OPTION, 0)
_IN_PROGRESS = errno.EINPROGRESS
_SOCKET, _LINGER_OPTION = socket.SOL_SOCKET, socket.SO_LINGER
_LINGER = (_SOCKET, _LINGER_OPTION, _RESET_ON_CLOSE)
_FAILED = select.EPOLLERR | select.EPOLLHUP
_WATCHED = select.EPOLLOUT | _FAILED
READY_AT_ONCE = 1023  # Python's default for epoll.poll's maxevents
SLOT = 0.01  # the timing wheel's slot, seconds: also the longest epoll wait
EXPIRY_EVERY = 0.05  # seconds between looks for connects past their timeout


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


class _Watch:
    """One check on the wheel (or in flight: never both). `live` goes False when the worker
    stops watching it; a result that comes in after is dropped."""

    # The address and port, not the (address, port) tuple connect_ex takes: 10,000 tuples kept
    # were 0.56 MB at 1,000 x 10, the tuple made for each connect costs tens of nanoseconds.
    __slots__ = ("token", "sharers", "address", "port", "family", "timeout", "quiet_after",
                 "path", "due", "streak", "live", "once")  # fmt: skip

    def __init__(
        self,
        token: object,
        sharers: Sequence[Stamped],
        address: str,
        port: int,
        timeout: float,
        quiet_after: int,
        path: PathCheck | None,
        due: float,
        once: bool,
    ) -> None:
        self.token, self.sharers = token, sharers
        self.address, self.port = address, port
        self.family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.timeout, self.quiet_after, self.path = timeout, quiet_after, path
        self.due, self.streak, self.live, self.once = due, 0, True, once

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


def _close_with_reset(sock: _socket.socket) -> None:
    sock.setsockopt(*_LINGER)
    sock.close()


class ConnectScanner:
    """watch({key: Watched}) hands over the checks to run on the scanner's schedule (replacing
    the previous set; a check whose address, port, timeout, threshold and path are unchanged
    keeps its place in the schedule); submit(token, address, port, timeout) runs one check once.
    `deliver(list[(token, ProbeResult)])` is called from the scanner thread with what is
    reported (the worker appends the batch to a deque its loop empties). path_ready(path):
    whether a check may go through the path yet (its private service is in the kernel)."""

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
        self.pending: dict[int, tuple[_socket.socket, _Watch, float, tuple | None]] = {}
        self.watches: dict[object, _Watch] = {}
        self.wheel: defaultdict[int, list[_Watch]] = defaultdict(list)
        self.slot = int(time.monotonic() / SLOT)  # the next slot of the wheel to run
        self.checks = 0  # connects started (checks made both ways count two)
        self.epoll = select.epoll()
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
        self.thread.join(timeout=5)
        for sock, *_ in self.pending.values():
            sock.close()
        self.epoll.close()

    # --- on the scanner's thread ------------------------------------------------------------
    def _handed(self, item, now: float, results: list) -> None:
        if isinstance(item, dict):
            self._rewatch(item, now)
            return
        token, address, port, timeout, path = item
        once = _Watch(token, (), address, port, timeout, 1 << 30, path, now, True)
        self._launch(once, now, results)

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

    def _launch_all(self, due: list[_Watch], now: float, results: list) -> None:
        """Start the checks of one slot of the wheel. A plain connect is started here in line,
        without the calls _launch and _connect cost (it is nearly every check)."""
        pending, register = self.pending, self.epoll.register
        started = 0
        for watch in due:
            if not watch.live:
                continue
            if watch.path is not None:
                self._launch(watch, now, results)  # counts its own connects
                continue
            started += 1
            sock = _PLAIN(watch.family, _STREAM)
            sock.setsockopt(_TCP, _QUICKACK_OPTION, 0)  # see the docstring
            code = sock.connect_ex((watch.address, watch.port))
            if code == _IN_PROGRESS:
                fd = sock.fileno()
                pending[fd] = (sock, watch, now, None)
                register(fd, _WATCHED)
            else:
                self._connected_at_once(watch, now, sock, code, None, results)
        self.checks += started

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
            sock = _PLAIN(watch.family, _STREAM)
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
        self._connected_at_once(watch, now, sock, code, half, results)

    def _connected_at_once(
        self, watch: _Watch, now: float, sock, code: int, half: tuple | None, results: list
    ) -> None:
        """A connect that did not wait for an answer: it connected, or failed at once."""
        if code == 0:
            _close_with_reset(sock)
            result = ProbeResult(True, time.monotonic() - now)
        else:
            sock.close()
            result = ProbeResult(False, time.monotonic() - now, _reason(code))
        self._half_done(watch, now, half, result, results)

    def _answered(self, results: list) -> None:
        """Every connect answered by now. One poll returns at most READY_AT_ONCE: after the
        thread was held up (a loaded machine) thousands may be ready, and those left in the
        kernel would be taken for timed out by the expiry that follows. Each batch is closed
        before the next poll (a closed socket leaves the epoll set), so no socket comes twice.
        A pass that is quiet (see the docstring) is handled here in line: it is nearly every
        check of every round."""
        ready = self.epoll.poll(SLOT, READY_AT_ONCE)
        if not ready:
            return
        now, wall = time.monotonic(), self.clock()
        pending, wheel = self.pending, self.wheel
        latencies = self.latencies
        while True:
            for fd, events in ready:
                item = pending.pop(fd, None)
                if item is None:
                    continue
                sock, watch, started, half = item
                # Closing the socket takes it out of the epoll set: no unregister call needed.
                if events & _FAILED:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    sock.close()
                    reason = _reason(code) if code else "connection closed"
                    self._half_done(
                        watch, started, half, ProbeResult(False, now - started, reason), results
                    )
                    continue
                sock.setsockopt(_SOCKET, _LINGER_OPTION, _RESET_ON_CLOSE)
                sock.close()
                streak = watch.streak + 1
                if half is not None or streak <= watch.quiet_after or not watch.live:
                    self._half_done(watch, started, half, ProbeResult(True, now - started), results)
                    continue
                # The in-line twin of _half_done's quiet pass (_quiet, _again): nearly every
                # check of every round comes here, so without their calls, as _launch_all.
                watch.streak = streak
                latency = now - started
                token = watch.token
                token.last_check, token.latency = wall, latency
                for server in watch.sharers:
                    server.last_check, server.latency = wall, latency
                if latencies is not None:
                    latencies.counts[bisect_left(latencies.bounds, latency)] += 1
                    latencies.sum += latency
                due = watch.due + watch.timeout
                watch.due = due if due > now else now
                wheel[int(watch.due / SLOT) + 1].append(watch)
            if len(ready) < READY_AT_ONCE:
                return
            ready = self.epoll.poll(0, READY_AT_ONCE)

    def _half_done(
        self, watch: _Watch, started: float, half: tuple | None, result: ProbeResult, results
    ) -> None:
        """One connect's result: with the other half's when made both ways, then reported, or
        quiet (see the docstring) as _answered's plain passes are."""
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
        self.wheel[int(watch.due / SLOT) + 1].append(watch)

    def _expired(self, now: float, results: list) -> None:
        expired = [
            fd for fd, (_, watch, started, _) in self.pending.items()
            if started + watch.timeout <= now
        ]  # fmt: skip
        for fd in expired:
            sock, watch, started, half = self.pending.pop(fd)
            sock.close()
            reason = f"connect timed out after {watch.timeout:g} s"
            self._half_done(
                watch, started, half, ProbeResult(False, now - started, reason), results
            )

    def _run(self) -> None:
        next_expiry = time.monotonic() + EXPIRY_EVERY
        queue, wheel = self.queue, self.wheel
        while self.running:
            results: list[tuple[object, ProbeResult]] = []
            now = time.monotonic()
            while queue:
                self._handed(queue.popleft(), now, results)
            last = int(now / SLOT)
            while self.slot <= last:
                due = wheel.pop(self.slot, None)
                self.slot += 1
                if due:
                    self._launch_all(due, now, results)
            self._answered(results)
            now = time.monotonic()
            if now >= next_expiry:
                next_expiry = now + EXPIRY_EVERY
                self._expired(now, results)
            if results:
                self.deliver(results)


def _failed(reason: str) -> ProbeResult:
    return ProbeResult(False, 0.0, reason)


def _reason(code: int) -> str:
    if code == errno.ECONNREFUSED:
        return "connection refused"
    return os.strerror(code)
