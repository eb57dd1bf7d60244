"""The worker's status writer: heartbeat, the shown table, health rows and connection samples,
written on the worker's status thread for CONTROL/MONITORING."""

from __future__ import annotations

import functools
import logging
import operator
import os
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from monitoring.checks.health import ServerHealth
from monitoring.ipvs.table import (
    RealServerRef,
    ServiceKey,
    Table,
    desired_state,
    operators_services,
    service_key,
)
from monitoring.ipvs.writer import KernelWriter
from monitoring.live.drainwatch import DrainWatch
from monitoring.live.servicerows import (
    TableDigest,
    keyed_rows,
    row_diff,
    table_digest,
    table_shape,
)
from monitoring.live.worker_table import write_rows
from monitoring.metrics.counters import TRAFFIC_EVERY, publish_traffic
from monitoring.models import (
    ConnectionSample,
    HealthState,
    RealServerHealth,
    WorkerStatus,
    create_the_single_row,
    new_table_stamp,
    retry_on_deadlock,
    update_by_pk,
    upsert,
)
from virtualservers.lvsconf.model import LvsConfig

log = logging.getLogger("lvsadmin.worker")
STATUS_EVERY = 2.0  # seconds between heartbeats
HEALTH_EVERY = 10.0  # seconds between full health writes (a transition is written at once)
# The share of one core the status thread may spend rewriting the shown table when only its
# connection counters moved (traffic moves them on every service, every round): at 10,000 x 10
# a round of that cost 0.6 s of CPU every 2 s (bench_worker.py). Anything else that changed in
# the table (a real server in or out, a weight, a service) is written at once.
COUNTERS_SHARE = 0.1
SAMPLE_EVERY = 60.0  # connection graph resolution
SAMPLE_KEEP = timedelta(hours=1)

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
Counters = dict[tuple[str, str, int], tuple[int, int, int]]
# What a health row holds of its server beside the stamps (last check, latency) and the
# counters: its state is also "unknown" until the first check (HealthWritten.unchecked).
_MARKED = operator.attrgetter("up", "since", "reason")
_CHECKED = operator.attrgetter("last_check")
_LATENCY = operator.attrgetter("latency")
_REF = operator.attrgetter("ref")


def _aware(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True)
class HealthSnapshot:
    """What the status writer needs from the health book, taken on the event loop's thread."""

    states: list[ServerHealth]
    down: frozenset[RealServerRef]
    transitions: int
    members: int | None = None  # HealthBook.members: None, not known (rows are looked for)


@dataclass(frozen=True)
class Enforced:
    """What the worker enforces, as the status writer shows it."""

    config: LvsConfig | None
    serial: int | None


def upsert_health(rows: list[tuple]) -> None:
    """Insert or update health rows, keyed by (virtual_name, address, port): the ORM's
    bulk_create spent most of the status thread's time on building 10,000 model instances and
    their SQL every ten seconds."""
    upsert(RealServerHealth, ("virtual_name", "address", "port"), HEALTH_FIELDS, rows)


@dataclass
class HealthWritten:
    """What a committed health write left in the health rows, for the next one to write only
    what moved. In the quiet state (every server up, nothing changing) that is the two stamps
    of every row, last check and latency, in one UPDATE by primary key (update_by_pk); a row
    whose state, since or error changed is written whole as before, and all of them when the
    servers or the table's counters and weights changed. Upserting 10,000 whole rows every
    HEALTH_EVERY was most of the quiet status thread's CPU (bench/bench_worker.py). Arrays and
    the refs the health book holds anyway: 240 kB at 10,000, no object a row."""

    refs: list[RealServerRef]  # the servers, in the order of what follows
    digest: TableDigest | None  # the table whose counters and weights the rows hold
    marks: array  # each server's hash of _MARKED
    unchecked: frozenset[int]  # the servers not checked yet: their state is "unknown"
    ids: array | None = None  # each server's row's primary key (None: not known)


@dataclass
class HealthWrite:
    """One round's health write: `stamps` (last check, latency, primary key) for every row and
    `rows` whole for the servers that changed; or, stamps None, every row whole (`whole()`).
    `written`: what the rows hold once it commits."""

    whole: Callable[[], list[tuple]]
    rows: list[tuple] | None
    stamps: list[tuple] | None
    written: HealthWritten


class StatusWriter:
    def __init__(
        self,
        kernel: KernelWriter,
        clock: Callable[[], float],
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.kernel = kernel
        self.clock = clock
        self.cpu_clock = cpu_clock  # this thread's CPU time: what COUNTERS_SHARE budgets
        # When the shown table may next be rewritten for its counters alone (see COUNTERS_SHARE).
        self.counters_due = 0.0
        self.last_status = 0.0
        # What the status row shows: the table last written as its digest (None: no table), and
        # its note; None: not known. A digest, not the table and its rows: keeping both cost
        # 7 MB at 1,000 x 10 (tracemalloc).
        self.last_table: tuple[TableDigest | None, str] | None = None
        # The table's rows as this worker last wrote them (their digests; None: not known), and
        # the stamp it wrote with them: another stamp in the row means another worker wrote since.
        self.stored: dict[str, int] | None = None
        self.stamp = ""
        self.last_health = -HEALTH_EVERY
        self.last_sample = 0.0
        self.last_traffic = -TRAFFIC_EVERY
        self.started_at = _aware(clock())
        self.announced = False  # the first write records the start, and the previous worker
        self.drains = DrainWatch()
        # The services' names, for the configuration they were worked out from (1,000 virtual
        # servers: 2 ms every round, bench_worker.py); the health book's members whose health
        # rows are known to be the only ones (None: read the rows' keys on the next write).
        self.names_for: tuple[LvsConfig | None, dict[ServiceKey, str]] | None = None
        self.rows_known: int | None = None
        self.rows_written: int | None = None
        # What the last committed health write left (None: not known), and the heartbeat this
        # worker wrote last: another one in the status row means another worker wrote since
        # (two directors on one database), whose health rows the next write replaces whole.
        self.health_written: HealthWritten | None = None
        self.health_foreign = False
        self.heartbeat_written: datetime | None = None

    def due(self) -> bool:
        return self.clock() - self.last_status >= STATUS_EVERY

    def write(self, enforced: Enforced, health: HealthSnapshot, force: bool = False) -> bool:
        now = self.clock()
        if not force and now - self.last_status < STATUS_EVERY:
            return False
        self.last_status = now
        config = enforced.config
        if self.names_for is None or self.names_for[0] is not config:
            self.names_for = (config, _service_names(config))
        names = self.names_for[1]
        table, note = self._read_table(config, health.down)
        if table is not None:
            # The path checks' private services are the worker's, not the operator's: CONTROL,
            # the API and ipvsadm.txt show the operator's services only (README, "Health
            # checks"); `ipvsadm -Ln` on the director still shows them.
            table = operators_services(table, names)
        status = {
            "heartbeat": _aware(now),
            "pid": os.getpid(),
            "serial_no": enforced.serial,
            "kernel_ok": self.kernel.ok,
            "kernel_message": (self.kernel.message or "")[:255],
        }
        # The table (10,000 services at scale) is compared and written only when it changed:
        # a new revision, a health change or moving connection counters; then only the
        # services whose content changed are written (a counter, a weight, a real server in or
        # out, the virtual server's name), and the ones gone deleted. What changed is told by
        # digests (servicerows.TableDigest): the last table written is not kept.
        self.drains.notice(table, names, self.kernel.held)
        rows: dict[str, dict] | None = None
        spent = 0.0
        digest = table_digest(table, names) if table is not None else None
        changed = (digest, note) != self.last_table
        shape: int | None = None  # the table's shape, worked out only when it changed
        if changed and table is not None:
            shape = table_shape(table, names)
        counters_only = changed and self._counters_only(shape, note)
        if changed and (force or not counters_only or now >= self.counters_due):
            spent = self.cpu_clock()
            status["table_note"] = note if table is not None else None
            rows = keyed_rows(table, names) if table is not None else {}
            status["table_stamp"] = new_table_stamp()
        write_health = (
            force
            or health.transitions
            or now - self.last_health >= HEALTH_EVERY
            or self._first_checks_in(health)
        )
        sample = now - self.last_sample >= SAMPLE_EVERY
        # Built once, and only for a round that needs them (whole health rows, samples).
        counted = functools.cache(lambda: _counters(table, names))
        plan = self._plan_health(health, digest, counted) if write_health else None
        if not self.announced:
            status["started_at"] = self.started_at
            create_the_single_row(WorkerStatus)
        # One short write transaction (SQLite takes its lock at BEGIN: see settings), prepared
        # beforehand so that gunicorn's writers wait as little as possible; run again whole when
        # the database rolled it back to break a deadlock with another director's worker.
        self.rows_written = None
        created = retry_on_deadlock(
            lambda: self._commit(
                status, rows, digest, plan, health, counted, now, write_health, sample
            )
        )
        if rows is not None:
            self.stored = digest.rows if digest is not None else {}
            self.stamp = status["table_stamp"]
            self.last_table = (replace(digest, shape=shape) if digest is not None else None, note)
            # Whatever made this write, the counters alone wait for the share it leaves.
            self.counters_due = now + (self.cpu_clock() - spent) / COUNTERS_SHARE
        # (Not written: the same table, or only its counters moved within the budget; then the
        # last table written stays what the next round compares with.)
        if created:
            # The status row had gone (a test, an operator's cleanup): the table is written
            # again next round, whole, since the row's stamp is no longer this worker's.
            self.last_table = None
        if self.rows_written is not None:  # the stale rows' cleanup committed
            self.rows_known = self.rows_written
        if plan is not None:
            self.health_written, self.health_foreign = plan.written, False
        self.heartbeat_written = status["heartbeat"]
        self.announced = True
        self._publish_metrics(config)
        if config is not None and now - self.last_traffic >= TRAFFIC_EVERY:
            self.last_traffic = now
            self._publish_traffic(names)
        if write_health:
            self.last_health = now
        if sample:
            self.last_sample = now
        return True

    def _plan_health(
        self, health: HealthSnapshot, digest: TableDigest | None, counted: Callable[[], Counters]
    ) -> HealthWrite:
        """What this round's health write writes (see HealthWritten): operator.attrgetter and
        map run a row's checks in C, and Python only loops over the servers that changed."""
        states = health.states
        adapt = connection.ops.adapt_datetimefield_value
        times: dict[float | None, object] = {}  # adapted: many servers share a since, a check
        refs = list(map(_REF, states))
        marks = array("q", map(hash, map(_MARKED, states)))
        checked = list(map(_CHECKED, states))
        unchecked = frozenset(
            i for i, at in enumerate(checked) if at is None
        ) if None in checked else frozenset()  # fmt: skip
        written = HealthWritten(refs, digest, marks, unchecked)

        def whole() -> list[tuple]:
            counters = counted()
            return [_health_row(s, counters, adapt, times) for s in states]

        last = self.health_written
        if last is None or last.refs != refs:
            return HealthWrite(whole, None, None, written)
        written.ids = last.ids  # the rows stay: an upsert keeps their keys
        if last.ids is None or last.digest != digest:
            return HealthWrite(whole, None, None, written)
        changed = set(unchecked ^ last.unchecked)
        if marks != last.marks:
            changed.update(
                i for i, (a, b) in enumerate(zip(marks, last.marks, strict=True)) if a != b
            )
        rows = None
        if changed:
            counters = counted()
            rows = [_health_row(states[i], counters, adapt, times) for i in sorted(changed)]
        for at in set(checked):
            if at not in times:
                times[at] = adapt(_aware(at))
        stamps = [
            (times[at], None if latency is None else round(latency * 1000, 2), pk)
            for at, latency, pk in zip(checked, map(_LATENCY, states), last.ids, strict=True)
        ]
        return HealthWrite(whole, rows, stamps, written)

    def _first_checks_in(self, health: HealthSnapshot) -> bool:
        """Whether fewer servers are unchecked than the health rows last written show
        "unknown": their first checks are written at the next round, not up to HEALTH_EVERY
        later (after a worker's start every server was shown unknown for up to ten seconds,
        though checked within one interval). One count in C, and only while rows show
        "unknown"."""
        last = self.health_written
        if last is None or not last.unchecked:
            return False
        return list(map(_CHECKED, health.states)).count(None) < len(last.unchecked)

    def _counters_only(self, shape: int | None, note: str) -> bool:
        """Whether the table of `shape` (table_shape's) differs from the last one written in its
        connection counters alone."""
        if self.last_table is None or shape is None:
            return False
        last, last_note = self.last_table
        return last is not None and note == last_note and shape == last.shape

    def _commit(
        self,
        status: dict,
        table: dict[str, dict] | None,
        digest: TableDigest | None,
        plan: HealthWrite | None,
        health: HealthSnapshot,
        counted: Callable[[], Counters],
        now: float,
        write_health: bool,
        sample: bool,
    ) -> bool:
        """Write it all in one transaction; whether the status row had to be created. `table`:
        the table's rows by key, when it changed (None: the table is not written this round);
        `digest`: the table's, whose rows' digests the rows written are compared by."""
        with transaction.atomic():
            if not self.announced:
                # A restart shows on CONTROL/MONITORING: when the previous worker was last seen.
                previous = WorkerStatus.objects.filter(pk=1).values_list("heartbeat", flat=True)
                status["previous_heartbeat"] = previous.first()
            # An UPDATE of the changed columns only: update_or_create read the whole row back
            # first, the shown table's JSON included (1 MB at 1,000 x 10, decoded every 2 s:
            # most of the status thread's time when nothing changed).
            row = WorkerStatus.objects.filter(pk=1)
            # The table's rows as this worker wrote them are what is stored while the row has
            # the stamp it wrote with them: then only the services that changed are written,
            # else (its first write, another director's worker wrote since) the whole table.
            known = table is not None and self.stored is not None and bool(self.stamp)
            done = updated = False
            if self.heartbeat_written is not None:
                # The row still holds this worker's last heartbeat: nobody wrote since (the
                # same UPDATE, no query more).
                mine = row.filter(heartbeat=self.heartbeat_written)
                done = bool(
                    (mine.filter(table_stamp=self.stamp) if known else mine).update(**status)
                )
                updated = known and done
            if not done:
                # Another worker may have written (two directors on one database), health rows
                # with its status: the next health write writes them whole.
                self.health_foreign = True
                updated = known and bool(row.filter(table_stamp=self.stamp).update(**status))
                done = updated
            created = not done and not row.update(**status)
            if created:  # the row went away (a test, an operator's cleanup)
                WorkerStatus.objects.create(pk=1, **status)
            if table is not None:
                compared = digest.rows if digest is not None else {}
                write_rows(row_diff(self.stored if updated else None, table, compared))
            if plan is not None:
                self._write_health(plan)
            if write_health or sample:
                self._rows_and_samples(health, plan, counted, now, write_health, sample)
        return created

    def _write_health(self, plan: HealthWrite) -> None:
        """The health rows as `plan` says, or whole when they may not be as this worker left
        them (health_foreign: another worker wrote since; fewer rows stamped than planned: some
        went, an operator's cleanup say, and their keys are read again)."""
        stamps = plan.stamps
        if stamps is not None and not self.health_foreign:
            fields = ("last_check", "latency_ms")
            if update_by_pk(RealServerHealth, fields, stamps) == len(stamps):
                if plan.rows:
                    upsert_health(plan.rows)
                return
            plan.written.ids = None
        upsert_health(plan.whole())

    def _publish_metrics(self, config: LvsConfig | None) -> None:
        try:
            self.kernel.metrics.publish(
                self.kernel.state_path, config, kernel=self.kernel.driver_name == "netlink"
            )
        except OSError as exc:  # /metrics goes without them; the heartbeat must not
            log.warning("cannot write the metrics beside %s: %s", self.kernel.state_path, exc)

    def _publish_traffic(self, names: dict[ServiceKey, str]) -> None:
        # No kernel to read: no counters, rather than the last ones read shown as current.
        traffic = operators_services(self.kernel.traffic() or {}, names)
        try:
            publish_traffic(self.kernel.state_path, traffic, names)
        except OSError as exc:
            log.warning("cannot write the traffic beside %s: %s", self.kernel.state_path, exc)

    def _rows_and_samples(
        self,
        health: HealthSnapshot,
        plan: HealthWrite | None,
        counted: Callable[[], Counters],
        now: float,
        write_health: bool,
        sample: bool,
    ) -> None:
        members = health.members
        ids_known = plan is None or plan.written.ids is not None
        if not sample and members is not None and members == self.rows_known and ids_known:
            # Only the rows of these servers exist (the last write removed the others): reading
            # 10,000 keys back every ten seconds to find none stale was most of a health write.
            return
        known = {(s.ref.virtual, s.ref.address, s.ref.port) for s in health.states}
        # One read of the rows' keys serves both the stale-row cleanup and the samples.
        existing = {
            (v, a, p): pk
            for pk, v, a, p in RealServerHealth.objects.values_list(
                "pk", "virtual_name", "address", "port"
            )
        }
        if write_health:
            stale = [pk for key, pk in existing.items() if key not in known]
            if stale:
                RealServerHealth.objects.filter(pk__in=stale).delete()
            self.rows_written = members  # known once this transaction commits
        if plan is not None and not ids_known:
            # Read after this round's rows were written: every server's row is there.
            keys = (existing.get((r.virtual, r.address, r.port)) for r in plan.written.refs)
            ids = array("q")
            for pk in keys:
                if pk is None:
                    break
                ids.append(pk)
            else:
                plan.written.ids = ids
        if sample:
            counters = counted()
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

    def _read_table(
        self, config: LvsConfig | None, down: frozenset[RealServerRef]
    ) -> tuple[Table | None, str]:
        """The live table, or the one it would apply with a note saying why (None: nothing
        published yet)."""
        if config is None:
            return None, ""
        table = self.kernel.dump()
        note = ""
        if self.kernel.driver is None or self.kernel.message:
            note = (
                f"# the table lvsadmin would apply ({self.kernel.message or 'no kernel access'})\n"
            )
        if table is None:  # no kernel to read: show what would be applied
            table = desired_state(config, down, held=self.kernel.held).table
        return table, note


def _service_names(config: LvsConfig | None) -> dict[ServiceKey, str]:
    """Which virtual server each service of the configuration belongs to (the first one for a
    shared firewall mark, as Piranha resolved it)."""
    names: dict[ServiceKey, str] = {}
    for virtual in config.virtuals if config is not None else ():
        if virtual.effective_active:
            names.setdefault(service_key(virtual), virtual.name)
    return names


def _counters(table: Table | None, names: dict[ServiceKey, str]) -> Counters:
    """(ActiveConn, InActConn, weight) per real server, keyed as the health rows are."""
    counters: Counters = {}
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


def _health_row(
    server: ServerHealth, counters: Counters, adapt, times: dict[float, object]
) -> tuple:
    """One row for upsert_health: the key, then HEALTH_FIELDS in order; `times` holds the
    adapted value of each distinct time met so far, `since` or last check (one datetime per
    value, not per row: the connect scanner stamps the checks of one poll with one time)."""
    ref = server.ref
    if server.since not in times:
        times[server.since] = adapt(_aware(server.since))
    checked = server.last_check
    if checked is not None and checked not in times:
        times[checked] = adapt(_aware(checked))
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
        times[server.since],
        None if checked is None else times[checked],
        None if server.latency is None else round(server.latency * 1000, 2),
        server.reason[:255],
        weight,
        active,
        inact,
    )
