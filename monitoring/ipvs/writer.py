"""The one writer of the kernel table: the only object the worker talks to about the kernel.

It opens the driver (retried while the kernel cannot be reached), decides between a full
converge (converge.py: configuration changed, a failure, applylvs asked, drift repair due) and a
health change diffed against what it last wrote (written.py), answers applylvs' requests and
leaves its view for `applylvs --dry-run` (coordination.py). All of it runs on the worker's
control thread; the status thread only dumps, under the same lock. Django-free."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from monitoring.ipvs.converge import ApplyBusy, ApplyResult
from monitoring.ipvs.coordination import ConvergeRequests, write_view
from monitoring.ipvs.drivers import get_driver
from monitoring.ipvs.drivers.base import DriverError
from monitoring.ipvs.table import ServiceKey, Table, TrafficTable
from monitoring.ipvs.written import WrittenTable
from monitoring.live.holds import Held
from virtualservers.lvsconf.model import LvsConfig, RealServerRef
from virtualservers.lvsconf.paths import PathCheck

log = logging.getLogger("lvsadmin.worker")
DRIVER_RETRY = 30.0


class ApplyObserver(Protocol):
    """Told of each apply's duration and outcome (metrics.counters.WorkerMetrics): injected, so
    the kernel side does not import the metrics package that reads its tables."""

    def observe_apply(self, seconds: float, ok: bool) -> None: ...


class _NoObserver:
    def observe_apply(self, seconds: float, ok: bool) -> None:
        pass


class KernelWriter:
    def __init__(
        self,
        driver_name: str,
        state_path: Path,
        clock: Callable[[], float] = time.time,
        arp_count: int = 5,
        drift_every: float = 5.0,
        metrics: ApplyObserver | None = None,
    ) -> None:
        self.driver_name = driver_name
        self.state_path = state_path
        self.clock = clock
        self.arp_count = arp_count
        self.drift_every = drift_every
        self.writer: WrittenTable | None = None
        self.message = ""  # why the kernel cannot be changed, or the last apply's failure
        self.applied_down: frozenset[RealServerRef] | None = None
        # Slow start's weights of the servers ramping in (checks.slowstart), asked at each apply.
        self.ramp: Callable[[], dict[RealServerRef, int]] = dict
        self.applied_weights: dict[RealServerRef, int] = {}
        # The runtime states (drain, maintenance) to enforce, replaced whole by the control
        # thread's poll; and those last applied.
        self.held: Held = {}
        self.applied_held: Held = {}
        # The load monitor's agents (loadweights): their drain and maintenance (an operator's
        # state wins), and the real servers they say are down (beside health's down set).
        self.also_held: Callable[[], Held] = dict
        self.also_down: Callable[[], frozenset[RealServerRef]] = frozenset
        # The checks through the forwarding path (lvsconf.paths), replaced whole with each
        # configuration: their private services are written with the table.
        self.paths: dict[RealServerRef, PathCheck] = {}
        self.need_converge = False
        self.loaded = False  # a full converge succeeded since this worker started
        self.last_converge = 0.0
        self.last_driver_try = -DRIVER_RETRY
        self.requests = ConvergeRequests(state_path)
        # Set by notice_requests() on the control thread: the event loop asks wants_apply()
        # every 50 ms and must not read files to answer.
        self.asked = False
        # The control thread applies while the status thread dumps: one netlink socket, one user.
        self.lock = threading.Lock()
        self.metrics = metrics or _NoObserver()  # for /metrics
        self.warned: set[str] = set()  # the last apply's warnings, logged once each

    @property
    def driver(self):
        return None if self.writer is None else self.writer.driver

    @property
    def ok(self) -> bool:
        return self.writer is not None and not self.message

    def open_driver(self) -> bool:
        if self.writer is not None or self.clock() - self.last_driver_try < DRIVER_RETRY:
            return False
        self.last_driver_try = self.clock()
        try:
            driver = get_driver(self.driver_name)
        except DriverError as exc:
            if str(exc) != self.message:
                log.warning("cannot change the IPVS table: %s (health checks go on)", exc)
            self.message = str(exc)
            return False
        self.writer = WrittenTable(driver, self.state_path, self.arp_count, lock_wait=5)
        self.message = ""
        self.need_converge = True
        return True

    def holds(self) -> Held:
        """The runtime states to enforce: the operators', then the agents' where none."""
        also = self.also_held()
        return {**also, **self.held} if also else self.held

    def wants_apply(self, down: frozenset[RealServerRef]) -> bool:
        return (
            self.need_converge
            or down | self.also_down() != self.applied_down
            or self.ramp() != self.applied_weights
            or self.holds() != self.applied_held
            or self.asked
            or (self.writer is not None and self.clock() - self.last_converge >= self.drift_every)
        )

    def notice_requests(self) -> None:
        """Look for a converge request of applylvs (control thread, on each poll)."""
        self.asked = self.requests.pending() is not None

    def apply(
        self,
        config: LvsConfig | None,
        down: frozenset[RealServerRef],
        serial: int | None = None,
    ) -> bool:
        """One step: converge when the configuration changed, something failed, applylvs asked
        or drift repair is due; otherwise apply only the health change. True when it applied."""
        token = self.requests.pending()
        if config is None:
            if token is not None:
                self.requests.answer(token, None)
            return False
        if token is None and not self.wants_apply(down):
            return False
        self.asked = False
        held = self.holds()
        down = down | self.also_down()
        drift_due = self.clock() - self.last_converge >= self.drift_every
        if self.writer is None:
            self.applied_down, self.applied_weights = down, self.ramp()
            self.applied_held = held
            if token is not None:
                self.requests.answer(token, None, self.message or "no kernel access")
            return False
        full = self.need_converge or token is not None or drift_due
        drift_repair = drift_due and not (self.need_converge or token)
        self.need_converge = False
        weights = self.ramp()
        started = time.perf_counter()
        try:
            with self.lock:
                paths = list(self.paths.values())
                if full:
                    result = self.writer.converge(config, down, held, weights, paths)
                else:
                    result = self.writer.update(config, down, held, weights, paths)
        except ApplyBusy as exc:
            log.info("%s; retrying", exc)
            self.need_converge = True
            return False
        except (DriverError, OSError) as exc:
            # OSError: an address the kernel cannot take; retried on the next converge.
            self.message = str(exc)
            self.writer.forget()
            self.need_converge = True
            self.metrics.observe_apply(time.perf_counter() - started, ok=False)
            if token is not None:
                self.requests.answer(token, None, self.message)
            return False
        self.metrics.observe_apply(time.perf_counter() - started, ok=result.ok)
        if full:
            self.last_converge = self.clock()
            self.loaded = self.loaded or not result.error
        self._report(result, drift_repair)
        self.applied_down, self.applied_weights = down, weights
        self.applied_held = held
        if token is not None:
            self.requests.answer(token, result)
        try:
            write_view(self.state_path, serial, down, held)
        except OSError as exc:
            log.warning("cannot write the worker's view beside %s: %s", self.state_path, exc)
        return True

    def path_written(self, path: PathCheck) -> bool:
        """Whether a check may go through `path`: its private service is in the kernel as this
        writer last left it. Until then (start-up, a new real server, no kernel or no root, a
        failed apply) a path check could only fail, so the real server gets its direct check
        alone. Read from the event loop: one dictionary lookup, no lock."""
        written = self.writer.written if self.writer is not None else None
        return (
            written is not None
            and not self.message
            and ServiceKey.for_fwmark(path.mark) in written.table
        )

    def remove_path_services(self, config: LvsConfig | None) -> bool:
        """The worker's clean stop: its private path-check services leave the kernel and the
        sysctls it changed for them get their values back. True when something was removed."""
        if self.writer is None:
            return False
        with self.lock:
            result = self.writer.remove_path_services(config)
        if result.error:
            log.warning("cannot remove the path checks' services: %s", result.error)
        elif result.ops or result.sysctls_set:
            log.info("removed the path checks' services: %s", result.summary())
        return bool(result.ops)

    def _report(self, result: ApplyResult, drift_repair: bool) -> None:
        if result.error:
            log.error("apply stopped: %s", result.error)
            self.message = f"apply stopped: {result.error}"
            self.need_converge = True
            return
        self.message = ""
        for warning in result.warnings:
            if warning not in self.warned:
                log.warning("%s", warning)
        self.warned = set(result.warnings)
        if result.ops or result.vips_added or result.vips_removed or result.sysctls_set:
            what = "repaired drift" if drift_repair else "applied"
            log.info("%s: %s", what, result.summary())

    def traffic(self) -> TrafficTable | None:
        """The traffic counters, for /metrics (None: no kernel to read). Not
        under self.lock: the driver reads them without disturbing applies (Driver.traffic)."""
        driver = self.driver
        if driver is None:
            return None
        try:
            return driver.traffic()
        except (DriverError, OSError) as exc:
            log.warning("cannot read the IPVS traffic counters: %s", exc)
            return None

    def dump(self) -> Table | None:
        """The live table for the status page (None: no kernel to read)."""
        if self.writer is None:
            return None
        try:
            with self.lock:
                return self.writer.driver.dump()
        except DriverError as exc:
            self.message = str(exc)
            return None
