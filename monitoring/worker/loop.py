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
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from monitoring.checks.health import HealthBook, ServerHealth
from monitoring.checks.probes import CheckSpec, probe
from monitoring.checks.scanner import ConnectScanner
from monitoring.ipvs.drivers import Driver, DriverError, get_driver
from monitoring.ipvs.engine import ApplyBusy, apply
from monitoring.ipvs.table import (
    RealServerRef,
    ServiceKey,
    Table,
    desired_state,
    format_table,
    service_key,
    table_rows,
)
from monitoring.models import (
    ConnectionSample,
    HealthState,
    RealServerHealth,
    Revision,
    WorkerStatus,
)
from virtualservers.lvsconf.model import LvsConfError, LvsConfig
from virtualservers.lvsconf.parse import parse

log = logging.getLogger("lvsadmin.worker")
STATUS_EVERY = 2.0  # seconds between heartbeats
HEALTH_EVERY = 10.0  # seconds between full health writes (a transition is written at once)
SAMPLE_EVERY = 60.0  # connection graph resolution
SAMPLE_KEEP = timedelta(hours=1)
CONFIG_POLL = 0.5  # a newly published revision is picked up within a second
DRIVER_RETRY = 30.0
MAX_CONCURRENT_CHECKS = 2000


def _aware(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


HEALTH_FIELDS = (
    "state",
    "since",
    "last_check",
    "latency_ms",
    "last_error",
    "weight",
    "active_conn",
    "inact_conn",
)


def _upsert_health(rows: list[tuple]) -> None:
    """Insert or update health rows, keyed by (virtual_name, address, port), with one prepared
    statement: the ORM's bulk_create spent most of the status thread's time on building 10,000
    model instances and their SQL every ten seconds."""
    quote = connection.ops.quote_name
    columns = ("virtual_name", "address", "port", *HEALTH_FIELDS)
    names = ", ".join(quote(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    table = quote(RealServerHealth._meta.db_table)
    if connection.vendor == "mysql":
        update = ", ".join(f"{quote(c)} = VALUES({quote(c)})" for c in HEALTH_FIELDS)
        conflict = f"ON DUPLICATE KEY UPDATE {update}"
    else:  # SQLite and PostgreSQL
        update = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in HEALTH_FIELDS)
        key = ", ".join(quote(c) for c in columns[:3])
        conflict = f"ON CONFLICT ({key}) DO UPDATE SET {update}"
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks}) {conflict}"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            cursor.executemany(sql, rows[start : start + 1000])


def is_plain_connect(spec: CheckSpec) -> bool:
    """A check that is only a TCP connect (the scanner's job)."""
    if spec.protocol != "tcp" or spec.kind == "mysql":
        return False
    return spec.kind == "tcp" or not (spec.send_program or spec.send or spec.expect)


@dataclass(frozen=True)
class Loaded:
    """A configuration read by read_config(); config None: nothing is published any more."""

    stamp: object
    config: LvsConfig | None
    checks: dict
    serial: int | None


@dataclass(frozen=True)
class HealthSnapshot:
    """What the status writer needs from the health book, taken on the event loop's thread."""

    states: list[ServerHealth]
    down: frozenset[RealServerRef]
    transitions: int


class Worker:
    def __init__(self, driver_name: str | None = None, clock=time.time, arp_count: int = 5) -> None:
        self.driver_name = driver_name or settings.LVSADMIN_IPVS_DRIVER
        self.clock = clock
        self.arp_count = arp_count
        self.book = HealthBook(clock)
        self.config: LvsConfig | None = None
        self.checks: dict = {}
        self.serial: int | None = None
        self.source_stamp: object = None
        self.driver: Driver | None = None
        self.kernel_message = ""
        self.applied_down: frozenset[RealServerRef] | None = None
        self.need_apply = False
        self.dirty: set[RealServerRef] = set()
        self.last_status = 0.0
        self.last_table: tuple[Table | None, str] | None = None  # what the status row shows
        self.last_health = -HEALTH_EVERY
        self.transitions = 0
        self.last_sample = 0.0
        self.last_driver_try = -DRIVER_RETRY
        self.stopping = False
        self.reload_requested = False
        self.scanner: ConnectScanner | None = None
        # The control thread applies while the status thread dumps: one netlink socket, one user.
        self.kernel_lock = threading.Lock()
        self.state_path = Path(settings.LVSADMIN_APPLY_STATE)

    # --- steps (each returns whether it did something) -------------------------------------
    def load_config(self, force: bool = False) -> bool:
        """Pick up a newly published revision (or a changed lvs.cf when nothing was published)."""
        return self.use_config(self.read_config(force))

    def read_config(self, force: bool = False) -> Loaded | None:
        """The newest configuration if it changed (database and file reads only: safe on the
        control thread while the event loop runs checks)."""
        latest = Revision.objects.order_by("-serial_no").values("serial_no").first()
        if latest is not None:
            stamp: object = ("revision", latest["serial_no"])
            if stamp == self.source_stamp and not force:
                return None
            revision = Revision.objects.get(serial_no=latest["serial_no"])
            text, checks, serial = revision.text, revision.checks or {}, revision.serial_no
        else:
            path = Path(settings.LVSADMIN_LVS_CF)
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
            return True
        self.config, self.checks = loaded.config, loaded.checks
        self.serial, self.source_stamp = loaded.serial, loaded.stamp
        self.book.sync(loaded.config, loaded.checks)
        self.need_apply = True
        log.info(
            "enforcing %s",
            f"revision {loaded.serial}" if loaded.serial is not None else settings.LVSADMIN_LVS_CF,
        )
        return True

    def open_driver(self) -> bool:
        if self.driver is not None or self.clock() - self.last_driver_try < DRIVER_RETRY:
            return False
        self.last_driver_try = self.clock()
        try:
            self.driver = get_driver(self.driver_name)
            self.kernel_message = ""
            self.need_apply = True
            return True
        except DriverError as exc:
            if str(exc) != self.kernel_message:
                log.warning("cannot change the IPVS table: %s (health checks go on)", exc)
            self.kernel_message = str(exc)
            return False

    def apply_if_needed(self, down: frozenset[RealServerRef] | None = None) -> bool:
        if self.config is None:
            return False
        down = self.book.down() if down is None else down
        if not self.need_apply and down == self.applied_down:
            return False
        self.need_apply = False
        if self.driver is None:
            self.applied_down = down
            return False
        try:
            with self.kernel_lock:
                result = apply(
                    self.config,
                    self.driver,
                    self.state_path,
                    down=down,
                    arp_count=self.arp_count,
                    lock_wait=5,
                )
        except ApplyBusy as exc:
            log.info("%s; retrying", exc)
            self.need_apply = True
            return False
        except DriverError as exc:
            self.kernel_message = str(exc)
            self.need_apply = True
            return False
        if result.error:
            log.error("apply stopped: %s", result.error)
            self.kernel_message = f"apply stopped: {result.error}"
            self.need_apply = True
        else:
            self.kernel_message = ""
            if result.ops or result.vips_added or result.vips_removed:
                log.info("applied: %s", result.summary())
        self.applied_down = down
        return True

    def health_snapshot(self) -> HealthSnapshot:
        snapshot = HealthSnapshot(list(self.book.states()), self.book.down(), self.transitions)
        self.transitions = 0
        return snapshot

    def write_status(self, force: bool = False, health: HealthSnapshot | None = None) -> bool:
        now = self.clock()
        if not force and now - self.last_status < STATUS_EVERY:
            return False
        self.last_status = now
        health = self.health_snapshot() if health is None else health
        table, note = self._read_table(health.down)
        status = {
            "heartbeat": _aware(now),
            "pid": os.getpid(),
            "serial_no": self.serial,
            "kernel_ok": self.driver is not None and not self.kernel_message,
            "kernel_message": (self.kernel_message or "")[:255],
        }
        # The table (10,000 lines at scale) is formatted and written only when it changed:
        # a new revision, a health change or moving connection counters.
        names = self._service_names()
        if (table, note) != self.last_table:
            status["table_text"] = note + format_table(table) if table is not None else ""
            status["table"] = table_rows(table, names) if table is not None else []
        with transaction.atomic():
            _row, created = WorkerStatus.objects.update_or_create(pk=1, defaults=status)
            self.last_table = (table, note) if "table" in status or not created else None
            write_health = force or health.transitions or now - self.last_health >= HEALTH_EVERY
            sample = now - self.last_sample >= SAMPLE_EVERY
            counters = self._counters(table, names) if write_health or sample else {}
            adapt = connection.ops.adapt_datetimefield_value
            rows = (
                [self._health_row(s, counters, adapt) for s in health.states]
                if write_health
                else []
            )
            if write_health:
                self.last_health = now
            if rows:
                _upsert_health(rows)
            existing: dict[tuple[str, str, int], int] = {}
            if write_health or sample:
                # One read of the rows' keys serves both the stale-row cleanup and the samples.
                existing = {
                    (v, a, p): pk
                    for pk, v, a, p in RealServerHealth.objects.values_list(
                        "pk", "virtual_name", "address", "port"
                    )
                }
            known = {(s.ref.virtual, s.ref.address, s.ref.port) for s in health.states}
            if write_health:
                stale = [pk for key, pk in existing.items() if key not in known]
                if stale:
                    RealServerHealth.objects.filter(pk__in=stale).delete()
            if sample:
                self.last_sample = now
                ConnectionSample.objects.bulk_create(
                    [
                        ConnectionSample(
                            health_id=existing[key],
                            at=_aware(now),
                            minute=int(now // 60),
                            active_conn=c[0],
                            inact_conn=c[1],
                        )
                        for key, c in ((k, counters.get(k, (0, 0, 0))) for k in known)
                        if key in existing
                    ],
                    batch_size=500,
                )
                ConnectionSample.objects.filter(at__lt=_aware(now) - SAMPLE_KEEP).delete()
        return True

    def _read_table(self, down: frozenset[RealServerRef]) -> tuple[Table | None, str]:
        """The live table, or the one it would apply with a note saying why (None: nothing
        published yet)."""
        if self.config is None:
            return None, ""
        table = None
        if self.driver is not None:
            try:
                with self.kernel_lock:
                    table = self.driver.dump()
            except DriverError as exc:
                self.kernel_message = str(exc)
        note = ""
        if self.driver is None or self.kernel_message:
            note = (
                f"# the table lvsadmin would apply ({self.kernel_message or 'no kernel access'})\n"
            )
        if table is None:  # no kernel to read: show what would be applied
            table = desired_state(self.config, down).table
        return table, note

    def _service_names(self) -> dict[ServiceKey, str]:
        """Which virtual server each service of the configuration belongs to (the first one
        for a shared firewall mark, as Piranha resolved it)."""
        names: dict[ServiceKey, str] = {}
        for virtual in self.config.virtuals if self.config is not None else ():
            if virtual.effective_active:
                names.setdefault(service_key(virtual), virtual.name)
        return names

    @staticmethod
    def _counters(
        table: Table | None, names: dict[ServiceKey, str]
    ) -> dict[tuple[str, str, int], tuple[int, int, int]]:
        """(ActiveConn, InActConn, weight) per real server, keyed as the health rows are."""
        counters: dict[tuple[str, str, int], tuple[int, int, int]] = {}
        for key, entry in (table or {}).items():
            name = names.get(key)
            if name is None:
                continue
            for dest in entry.destinations.values():
                counters[(name, dest.address, dest.port)] = (
                    dest.active_conn,
                    dest.inact_conn,
                    dest.weight,
                )
        return counters

    @staticmethod
    def _health_row(server: ServerHealth, counters, adapt) -> tuple:
        """One row for _upsert_health: the key, then HEALTH_FIELDS in order."""
        ref = server.ref
        active, inact, weight = counters.get((ref.virtual, ref.address, ref.port), (0, 0, None))
        state = (
            HealthState.UNKNOWN
            if server.last_check is None
            else HealthState.UP
            if server.up
            else HealthState.DOWN
        )
        return (
            ref.virtual,
            ref.address,
            ref.port,
            state.value,
            adapt(_aware(server.since)),
            adapt(_aware(server.last_check)),
            None if server.latency is None else round(server.latency * 1000, 2),
            server.reason[:255],
            weight,
            active,
            inact,
        )

    # --- checks ----------------------------------------------------------------------------
    async def run_check(self, server: ServerHealth, limit: asyncio.Semaphore) -> None:
        started = server.next_due
        async with limit:
            result = await probe(server.ref.address, server.ref.port, server.spec)
        transition = self.book.record(server.ref, result, started)
        if transition is not None:
            self.transitions += 1
            log.info(transition.message())

    def scan_results(self, batch) -> None:
        """Results from the connect scanner's thread, delivered on the event loop."""
        for (server, started), result in batch:
            transition = self.book.record(server.ref, result, started)
            if transition is not None:
                self.transitions += 1
                log.info(transition.message())

    def start_due_checks(self, limit: asyncio.Semaphore, tasks: set[asyncio.Task]) -> int:
        due = self.book.due()
        scanner = self.scanner
        for server in due:
            server.running = True
            if scanner is not None and is_plain_connect(server.spec):
                scanner.submit(
                    (server, server.next_due),
                    server.ref.address,
                    server.ref.port,
                    server.spec.timeout,
                )
                continue
            task = asyncio.get_running_loop().create_task(self.run_check(server, limit))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        return len(due)

    # --- the loop --------------------------------------------------------------------------
    async def run(self, once: bool = False) -> None:
        """Checks are scheduled and recorded on this event loop, which never waits for the
        database or the kernel: configuration, driver and applies run on a control thread,
        status writes on a status thread, each one step at a time."""
        loop = asyncio.get_running_loop()
        control = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvsadmin-control")
        status = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lvsadmin-status")
        limit = asyncio.Semaphore(MAX_CONCURRENT_CHECKS)
        tasks: set[asyncio.Task] = set()

        def on(executor, func, *args) -> asyncio.Future:
            def call():
                close_old_connections()
                return func(*args)

            return loop.run_in_executor(executor, call)

        if not once:
            self.scanner = ConnectScanner(
                lambda batch: loop.call_soon_threadsafe(self.scan_results, batch)
            )
        if not once and threading.current_thread() is threading.main_thread():
            loop.add_signal_handler(signal.SIGTERM, self.stop)
            loop.add_signal_handler(signal.SIGINT, self.stop)
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        writing: asyncio.Future | None = None
        controlling: asyncio.Future | None = None
        try:
            await on(control, self.open_driver)
            self.use_config(await on(control, self.read_config, True))
            if once:
                self.book.reschedule_all(0.0)
                self.start_due_checks(limit, tasks)
                if tasks:
                    await asyncio.gather(*tasks)
                await on(control, self.apply_if_needed, self.book.down())
                await on(status, self.write_status, True, self.health_snapshot())
                return
            next_poll = 0.0
            reading = False
            while not self.stopping:
                now = self.clock()
                if controlling is not None and controlling.done():
                    result = controlling.result()  # a step that raised stops the worker
                    if reading:
                        self.use_config(result)
                    controlling, reading = None, False
                if controlling is None:
                    if self.reload_requested:
                        self.reload_requested = False
                        log.info("SIGHUP: re-reading the configuration")
                        controlling, reading = on(control, self.read_config, True), True
                    elif now >= next_poll:
                        next_poll = now + CONFIG_POLL
                        controlling, reading = on(control, self.poll), True
                    elif self.config is not None and (
                        self.need_apply or self.book.down() != self.applied_down
                    ):
                        controlling = on(control, self.apply_if_needed, self.book.down())
                self.start_due_checks(limit, tasks)
                if now - self.last_status >= STATUS_EVERY and (writing is None or writing.done()):
                    if writing is not None:
                        writing.result()
                    writing = on(status, self.write_status, False, self.health_snapshot())
                await asyncio.sleep(0.05)
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
            control.shutdown(wait=True)
            status.shutdown(wait=True)

    def poll(self) -> Loaded | None:
        """The control thread's regular pass: retry the driver, look for a new revision."""
        self.open_driver()
        return self.read_config()

    def stop(self) -> None:
        self.stopping = True

    def request_reload(self) -> None:
        self.reload_requested = True
