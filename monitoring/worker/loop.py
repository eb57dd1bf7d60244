"""The worker: what pulse, lvsd and nanny did, in one process.

It enforces the newest published revision (noticed within a second), checks every active real
server, applies through the engine at once when health changes, and reports health, counters
and a heartbeat to the database for CONTROL/MONITORING. Written as small steps that say whether
they did work (healthchecks' sendalerts style) so tests can drive them one by one.

SIGTERM stops it without touching the kernel table: restarting the worker is never an outage.
SIGHUP re-reads the configuration. Without IPVS (or root) it still checks health and shows the
table it would apply, with the reason it cannot.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connections
from django.db.backends.signals import connection_created

from monitoring.arpguard import packet
from monitoring.arpguard.watch import ArpWatch
from monitoring.checks import programs
from monitoring.checks.health import HealthBook, Transition
from monitoring.checks.probes import CheckSpec, ProbeResult, probe_both_ways
from monitoring.checks.scanner import ConnectScanner, Watched
from monitoring.checks.slowstart import SlowStart
from monitoring.ipvs.coordination import WorkerPresence
from monitoring.ipvs.writer import KernelWriter
from monitoring.live.states import drain_ready, held_now
from monitoring.loadweights.conf import uptime_ssh_config
from monitoring.loadweights.monitor import LoadMonitor
from monitoring.metrics.counters import WorkerMetrics
from monitoring.models import PreparedRead, Revision
from monitoring.notify import announce
from monitoring.notify.delivery import WorkerNotifications, program_policy
from monitoring.redundancy.role import DirectorRole
from monitoring.redundancy.worker_step import WorkerRedundancy
from monitoring.worker import heap
from monitoring.worker.conf import worker
from monitoring.worker.heartbeat import Heartbeat
from monitoring.worker.status import Enforced, HealthSnapshot, StatusWriter
from virtualservers.conf import lvs_cf
from virtualservers.lvsconf.model import LvsConfError, LvsConfig, RealServerRef
from virtualservers.lvsconf.parse import parse
from virtualservers.lvsconf.paths import PathCheck, path_checks

log = logging.getLogger("lvsadmin.worker")
# The newest revision's serial number: every poll's question (see PreparedRead).
LATEST_SERIAL = PreparedRead(Revision.objects.order_by("-serial_no").values_list("serial_no")[:1])
CONFIG_POLL = 0.5  # a newly published revision is picked up within a second
MAX_CONCURRENT_CHECKS = 2000
# Seconds between passes of the loop: due checks started, scanned results taken. A pass that
# finds nothing to do still costs the loop about 0.25 ms; at 0.05 s that was 0.5% of a core at
# 10,000 real servers, 0.3% at 0.1 s (bench_worker.py). A failure reaches the table at most one
# tick later than the scanner saw it, well inside a check's interval.
TICK = 0.1
BACKOFF_MAX = 30.0  # seconds between retries of a step that keeps failing


def drop_unusable_connections() -> None:
    """Before a step on a control or status thread: keep the thread's database connection,
    closing it only when an error left it unusable. Django's close_old_connections() (what a
    request does) closed it every time with CONN_MAX_AGE 0, and the next query opened another:
    twice a second on the control thread, the most expensive part of an unchanged poll
    (bench_worker.py). Autocommit: each query still sees what others committed."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is None or not connection.errors_occurred:
            continue
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


# The page cache of each of the worker's SQLite connections, KiB: SQLite's default is 2 MB a
# connection, filled by the status thread's health writes (10,000 rows every ten seconds) and
# kept for good; 2.4 MB of the worker's RSS at 1,000 x 10 with two connections
# (bench/bench_worker.py). The pages it rereads come from the OS's file cache.
SQLITE_CACHE_KIB = 512


def small_page_cache(sender, connection, **kwargs) -> None:
    """connection_created's receiver while a worker runs (its threads' connections)."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")


def is_plain_connect(spec: CheckSpec) -> bool:
    """A check that is only a TCP connect (the scanner's job)."""
    if spec.protocol != "tcp" or spec.kind not in ("nanny", "tcp"):
        return False
    return spec.kind == "tcp" or not (spec.send_program or spec.send or spec.expect)


@dataclass(frozen=True)
class Loaded:
    """A configuration read by read_config(); config None: nothing is published any more."""

    stamp: object
    config: LvsConfig | None
    checks: dict
    serial: int | None


class Backoff:
    """A step that raised is retried after 1, 2, 4... seconds (at most BACKOFF_MAX), logged once
    per new reason: a locked or vanished database must not stop the checks."""

    def __init__(self, what: str, clock) -> None:
        self.what, self.clock = what, clock
        self.failures = 0
        self.until = 0.0
        self.last_reason = ""

    def ready(self) -> bool:
        return self.clock() >= self.until

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        delay = min(BACKOFF_MAX, 2.0 ** (self.failures - 1))
        self.until = self.clock() + delay
        reason = f"{type(exc).__name__}: {exc}"
        if reason != self.last_reason:
            log.error("%s failed (%s); retrying in %.0f s", self.what, reason, delay)
            self.last_reason = reason

    def succeeded(self) -> None:
        if self.failures:
            log.info("%s works again", self.what)
        self.failures, self.until, self.last_reason = 0, 0.0, ""


class Worker:
    """The loop and its steps. The health book (checks.health) decides up and down, the kernel
    side (worker.kernel) writes the table, the status writer (worker.status) reports."""

    def __init__(self, driver_name: str | None = None, clock=time.time, arp_count: int = 5) -> None:
        self.clock = clock
        self.book = HealthBook(clock)
        self.config: LvsConfig | None = None
        self.checks: dict = {}
        self.serial: int | None = None
        self.source_stamp: object = None
        self.state_path = worker().apply_state
        programs.configure(program_policy())  # the same policy the notify program obeys
        self.metrics = WorkerMetrics()  # for /metrics: applies counted by the writer, checks here
        self.kernel = KernelWriter(
            driver_name or worker().ipvs_driver,
            self.state_path,
            clock,
            arp_count,
            drift_every=worker().drift_every,
            metrics=self.metrics,
        )
        self.status = StatusWriter(self.kernel, clock)
        self.slow_start = SlowStart(clock, worker().slow_start_step)
        # Weights that follow load join slow start's (which win) on their way to the writer;
        # an agent's drain, maintenance and down join the operator's and health's.
        self.load = LoadMonitor(clock, self.slow_start, uptime_ssh_config())
        self.kernel.ramp = self.load.weights
        self.kernel.also_held, self.kernel.also_down = self.load.held, self.load.down
        self.redundancy = WorkerRedundancy()
        self.role_seen: DirectorRole | None = None  # the role at the last poll (notifications)
        self.bgp_seen: announce.BgpSeen | None = None  # BGP sessions and VIPs, likewise
        self.transitions = 0
        self.stopping = False
        self.reload_requested = False
        self.revision_stored = False
        self.scanner: ConnectScanner | None = None
        # The scanner's batches, taken by the loop on its next tick (TICK): waking the loop for
        # each batch (call_soon_threadsafe: a write to its self-pipe, then a pass of the loop)
        # cost the scanner and the loop more than recording the results (bench_worker.py).
        self.scanned: deque[list] = deque()
        self.notifications = WorkerNotifications()  # delivered on threads of its own
        self.held_read = False
        # A finished drain is found by the status thread; a weak receiver: one per worker.
        drain_ready.connect(self.drained)

    # --- steps (each returns whether it did something) -------------------------------------
    def load_config(self, force: bool = False) -> bool:
        """Pick up a newly published revision (or a changed lvs.cf when nothing was published)."""
        return self.use_config(self.read_config(force))

    def read_config(self, force: bool = False) -> Loaded | None:
        """The newest configuration if it changed (database and file reads only: safe on the
        control thread while the event loop runs checks). The runtime states (drain,
        maintenance) are read here too: on every poll, and before the first apply."""
        held = held_now()
        if self.held_read:  # states found at start are not changes
            for event in announce.held_events(self.kernel.held, held):
                self.notifications.notify(event)
        self.kernel.held, self.held_read = held, True
        latest = LATEST_SERIAL.rows()
        if latest:
            stamp: object = ("revision", latest[0][0])
            if stamp == self.source_stamp and not force:
                return None
            revision = Revision.objects.get(serial_no=latest[0][0])
            text, checks, serial = revision.text, revision.checks or {}, revision.serial_no
        else:
            path = lvs_cf()
            try:
                info = path.stat()
            except FileNotFoundError:
                if self.source_stamp is not None or force:
                    return Loaded(None, None, {}, None)
                return None
            stamp = ("file", info.st_mtime_ns, info.st_size)
            if stamp == self.source_stamp and not force:
                return None
            text, checks, serial = path.read_bytes().decode(), {}, None
        try:
            config, _warnings = parse(text)
        except LvsConfError as exc:
            log.error("cannot use the published configuration: %s", exc)
            self.source_stamp = stamp
            return None
        return Loaded(stamp, config, checks, serial)

    def use_config(self, loaded: Loaded | None) -> bool:
        """Start enforcing what read_config() found (on the event loop's thread: it changes the
        health book that the loop schedules checks from)."""
        if loaded is None:
            return False
        if loaded.config is None:
            self.source_stamp, self.config = None, None
            self.book.sync(LvsConfig())
            self.watch_checks()
            self.slow_start.sync(LvsConfig())
            self.load.sync(LvsConfig())
            self.kernel.paths = {}
            return True
        self.config, self.checks = loaded.config, loaded.checks
        self.serial, self.source_stamp = loaded.serial, loaded.stamp
        # The checks through the forwarding path: the health book checks them, the writer keeps
        # their private services in the kernel (one plan, so marks agree).
        kinds = {name: str(check.get("kind") or "") for name, check in loaded.checks.items()}
        paths = path_checks(loaded.config, kinds)
        self.kernel.paths = paths
        self.book.sync(loaded.config, loaded.checks, paths)
        self.watch_checks()
        self.slow_start.sync(loaded.config, self.book.same_ref)
        self.load.sync(loaded.config)
        self.kernel.need_converge = True
        log.info(
            "enforcing %s",
            f"revision {loaded.serial}" if loaded.serial is not None else str(lvs_cf()),
        )
        return True

    def open_driver(self) -> bool:
        return self.kernel.open_driver()

    def apply_if_needed(self, down: frozenset[RealServerRef] | None = None) -> bool:
        down = self.book.down() if down is None else down
        return self.kernel.apply(self.config, down, self.serial)

    def health_snapshot(self) -> HealthSnapshot:
        book = self.book
        snapshot = HealthSnapshot(list(book.states()), book.down(), self.transitions, book.members)
        self.transitions = 0
        return snapshot

    def write_status(self, force: bool = False, health: HealthSnapshot | None = None) -> bool:
        health = self.health_snapshot() if health is None else health
        self.load.publish(self.state_path)
        try:
            return self.status.write(Enforced(self.config, self.serial), health, force)
        finally:
            # What this round built (the shown table's rows, the health rows) and what the
            # control thread's last converge or configuration left free goes back (heap).
            heap.give_back()

    def poll(self) -> Loaded | None:
        """The control thread's regular pass: retry the driver, look for a new revision."""
        self.open_driver()
        self.kernel.notice_requests()
        self.notifications.reload()
        with self.kernel.lock:
            # down: a copy the event loop's thread may change meanwhile (one C-level copy).
            self.redundancy.step(
                self.config, self.kernel.driver, self.serial, self.kernel.loaded,
                self.book.down(), self.kernel.held,
            )  # fmt: skip
        role = self.redundancy.control.state.role
        event = announce.role_event(self.role_seen, role)
        if event is not None:
            self.notifications.notify(event)
        self.role_seen = role
        bgp = self.redundancy.bgp_seen()
        for event in announce.bgp_events(self.bgp_seen, bgp) if bgp is not None else []:
            self.notifications.notify(event)
        self.bgp_seen = bgp
        return self.read_config()

    def stop(self) -> None:
        self.stopping = True

    def guarded_config(self) -> LvsConfig | None:
        """The configuration whose VIPs the ARP guard watches: only while this worker drives the
        real kernel (with the memory driver, on a test host, it must not send ARP anywhere)."""
        if self.kernel.driver_name != "netlink" or self.kernel.writer is None:
            return None
        return self.config

    def drained(self, sender, ref: RealServerRef, **kwargs) -> None:
        self.notifications.notify(announce.drained_event(ref))

    def reread_config(self) -> None:
        """A new revision was stored (from another thread: the configuration follower): look
        for it on the next pass. Not a forced read: the regular poll may have found it already,
        and forcing would converge the same revision a second time."""
        self.revision_stored = True

    def request_reload(self) -> None:
        log.info("SIGHUP: re-reading the configuration")
        self.reload_requested = True

    # --- checks ----------------------------------------------------------------------------
    async def run_check(self, server, limit: asyncio.Semaphore) -> None:
        started = server.next_due
        async with limit:
            try:
                result = await probe_both_ways(
                    server.ref.address, server.ref.port, server.spec, self.path_of(server)
                )
            except Exception as exc:  # a bug in one probe must not stop the others
                log.exception("check of %s:%s raised", server.ref.address, server.ref.port)
                result = ProbeResult(False, 0.0, f"check error: {type(exc).__name__}: {exc}")
        self.record(server.ref, result, started)

    def path_of(self, server) -> PathCheck | None:
        """The server's check through the forwarding path, once its private service is in the
        kernel (KernelWriter.path_written); None: its direct check only."""
        path = server.path
        if path is None or not self.kernel.path_written(path):
            return None
        return path

    def record(self, ref: RealServerRef, result: ProbeResult, started: float) -> None:
        """One check's result, for every real server that shares it (checks.health)."""
        transitions = self.book.record_shared(ref, result, started)
        # One result moves every server it changes the same way: up if it passed, else down.
        became_up = result.ok if transitions else None
        self.metrics.observe_check(result.latency, became_up, len(transitions))
        for sharer in self.book.sharers(ref):  # the same address: the same load figures
            self.load.checked(sharer, result)
        for transition in transitions:
            self.transitioned(transition)

    def transitioned(self, transition: Transition) -> None:
        ref = transition.ref
        if ref in self.kernel.held:
            # Checks go on for a held server, so that its return finds its health known, but a
            # server being drained or in maintenance is expected to fail: not a health event.
            log.info("%s (held: %s)", transition.message(), self.kernel.held[ref])
        else:
            self.transitions += 1
            log.info(transition.message())
            if transition.up:
                self.slow_start.entered(ref)
            else:
                self.slow_start.left(ref)
            self.load.moved(ref)
            self.notifications.changed(transition)

    def scan_results(self, batch) -> None:
        """Results from the connect scanner's thread, recorded on the event loop. Most pass
        and change nothing: those take the health book's short way and one metrics lock."""
        book, passed = self.book, []
        for (server, started), result in batch:
            if result.load is None and book.record_passed(server, result, started):
                passed.append(result.latency)
            else:
                self.record(server.ref, result, started)
        if passed:
            self.metrics.observe_passed(passed)

    def take_scanned(self) -> int:
        """Record the batches the scanner delivered since the last tick; how many."""
        scanned, taken = self.scanned, 0
        while scanned:
            self.scan_results(scanned.popleft())
            taken += 1
        return taken

    def watch_checks(self) -> None:
        """Hand every plain connect check to the scanner, which runs them on its own schedule
        and reports only failures and the passes that follow one (checks.scanner); the book
        keeps scheduling the others (HTTP, MySQL, programs...). Once per configuration."""
        scanner = self.scanner
        if scanner is None:
            return
        now, servers = self.clock(), self.book.servers
        watched: dict[RealServerRef, Watched] = {}
        for ref, server in servers.items():
            if server.leader is not None or not is_plain_connect(server.spec):
                continue
            sharers = tuple(servers[r] for r in server.followers)  # () when none: shared
            watched[ref] = Watched(
                server,
                sharers,
                ref.address,
                ref.port,
                server.spec.timeout,
                # The passes a return needs, for each server the check stands for.
                max((server.threshold, *(s.threshold for s in sharers))),
                server.path,
                max(0.0, server.next_due - now),
            )
        self.book.hand_over(set(watched))
        scanner.watch(watched)

    def start_due_checks(self, limit: asyncio.Semaphore, tasks: set[asyncio.Task]) -> int:
        """Start the checks the book schedules (every check but the scanner's)."""
        due = self.book.due()
        for server in due:
            server.running = True
            task = asyncio.get_running_loop().create_task(self.run_check(server, limit))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return len(due)

    # --- the loop --------------------------------------------------------------------------
    async def run(self, once: bool = False) -> None:
        """Checks are scheduled and recorded on this event loop, which never waits for the
        database or the kernel: configuration, driver and applies run on a control thread,
        status writes on a status thread, one step at a time. A step that raises is logged and
        retried with a back-off; the checks go on."""
        presence = WorkerPresence(self.state_path)
        if not presence.claim():
            raise RuntimeError(
                f"another worker is running (it holds {presence.path}): one writer per kernel"
            )
        loop = asyncio.get_running_loop()
        connection_created.connect(small_page_cache)
        control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvsadmin-control")
        status = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvsadmin-status")
        limit = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)
        tasks: set[asyncio.Task] = set()

        def on(executor, func, *args) -> asyncio.Future:
            def call():
                drop_unusable_connections()
                return func(*args)

            return loop.run_in_executor(executor, call)

        if not once:
            self.scanner = ConnectScanner(
                self.scanned.append,  # a deque: safe across threads
                self.metrics.quiet_latency,
                self.kernel.path_written,
                self.clock,
            )
            self.watch_checks()
        arp_watch = None
        if not once and worker().arp_guard and packet.can_ask():
            arp_watch = ArpWatch(
                self.state_path,
                self.guarded_config,
                self.notifications.notify,
                packet.local_addresses,
            )
            arp_watch.start()
        if not once and threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        writing: asyncio.Future | None = None
        controlling: asyncio.Future | None = None
        control_backoff = Backoff("the control step (configuration, kernel)", self.clock)
        status_backoff = Backoff("the status write", self.clock)
        heartbeat = Heartbeat(self.state_path, self.clock)
        heartbeat_failed = False
        try:
            await on(control, self.open_driver)
            if once:
                self.use_config(await on(control, self.read_config, True))
                self.book.reschedule_all(0.0)
                self.start_due_checks(limit, tasks)
                if tasks:
                    await asyncio.gather(*tasks)
                await on(control, self.apply_if_needed, self.book.down())
                await on(status, self.write_status, True, self.health_snapshot())
                return
            self.reload_requested = True  # the first read, retried like any other step
            next_poll = 0.0
            reading = False
            while not self.stopping:
                now = self.clock()
                if controlling is not None and controlling.done():
                    try:
                        result = controlling.result()
                    except Exception as exc:
                        control_backoff.failed(exc)
                        if reading:
                            self.reload_requested = True
                    else:
                        control_backoff.succeeded()
                        if reading:
                            self.use_config(result)
                    if reading:
                        # Counted from the end of a read: a read slower than CONFIG_POLL (a
                        # loaded host) must still leave the control thread time to apply.
                        next_poll = self.clock() + CONFIG_POLL
                    controlling, reading = None, False
                if controlling is None and control_backoff.ready():
                    if self.reload_requested:
                        self.reload_requested = False
                        controlling, reading = on(control, self.read_config, True), True
                    elif self.revision_stored:
                        self.revision_stored = False
                        controlling, reading = on(control, self.read_config), True
                    elif now >= next_poll:
                        next_poll = now + CONFIG_POLL
                        controlling, reading = on(control, self.poll), True
                    elif self.config is not None and self.kernel.wants_apply(self.book.down()):
                        controlling = on(control, self.apply_if_needed, self.book.down())
                self.take_scanned()
                self.start_due_checks(limit, tasks)
                self.load.start_due(tasks)
                try:  # here, not on the status thread: that one may wait for the database
                    heartbeat.beat()
                    heartbeat_failed = False
                except OSError as exc:
                    if not heartbeat_failed:
                        log.error("cannot touch the heartbeat file %s: %s", heartbeat.path, exc)
                    heartbeat_failed = True
                if writing is not None and writing.done():
                    try:
                        writing.result()
                        status_backoff.succeeded()
                    except Exception as exc:
                        status_backoff.failed(exc)
                    writing = None
                if writing is None and self.status.due() and status_backoff.ready():
                    writing = on(status, self.write_status, False, self.health_snapshot())
                await asyncio.sleep(TICK)
            log.info("stopping; the IPVS table stays as it is")
        finally:
            for future in (controlling, writing):
                if future is not None:
                    await asyncio.wait([future])
            for task in tasks:
                task.cancel()
            if self.scanner is not None:
                self.scanner.close()
                self.scanner = None
            if arp_watch is not None:
                arp_watch.stop()
            try:
                # A clean stop leaves the operator's table as it is; only the private services
                # of the path checks go (nothing checks through them any more).
                await on(control, self.kernel.remove_path_services, self.config)
            except Exception as exc:
                log.warning("cannot remove the path checks' services: %s", exc)
            control.shutdown(wait=True)
            status.shutdown(wait=True)
            connection_created.disconnect(small_page_cache)
            if not once:  # BGP: nothing stays announced once nobody maintains the table
                self.redundancy.stopped(self.config, self.kernel.driver)
            self.notifications.close()
            presence.release()
