"""The worker's redundancy step: keepalived's configuration kept current, this director's role
read, and the IPVS connection sync daemon switched with it.

Runs on the worker's control thread on each poll. No Django: the worker passes its settings in
(``RedundancyPaths``) and its driver; tests pass the memory driver and temporary paths.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from monitoring.ipvs.drivers.base import Driver, DriverError, SyncCadence, SyncDaemon
from monitoring.redundancy import keepalived
from monitoring.redundancy.role import (
    ROLE_FAULT,
    ROLE_SINGLE,
    DirectorRole,
    read_role,
    role_lock,
    write_role,
)
from virtualservers.lvsconf.model import LvsConfig

log = logging.getLogger("lvsadmin.worker")
DEFAULT_SYNC_IFACE = "eth0"
SYNC_THRESHOLD = 3  # the kernel's: the first send at a connection's third incoming packet
SYNC_RETRIES = 1


@dataclass(frozen=True)
class RedundancyPaths:
    conf: Path  # keepalived.conf we write
    pid_file: Path  # keepalived's main pid file (its -p)
    role_file: Path
    yield_file: Path
    notify: tuple[str, ...]  # the notify program's argv, without its options
    binary: str = "keepalived"
    router_id: int = 51
    secret: str = ""
    ready_file: Path | None = None  # the worker-ready track file (keepalived.hold_until_ready)
    sync_refresh: int = 10  # seconds between sends of a busy connection; 0: the kernel's cadence


@dataclass
class RedundancyState:
    """What the status page shows."""

    enabled: bool = False
    role: DirectorRole = field(default_factory=lambda: DirectorRole(ROLE_SINGLE))
    message: str = ""  # why redundancy does not work as configured ("" when it does)
    takeover_seconds: float | None = None
    sync_daemons: list[SyncDaemon] = field(default_factory=list)


def wanted_sync_daemon(config: LvsConfig, role: DirectorRole) -> SyncDaemon | None:
    """The sync daemon this director should run: master where it serves the VIPs (the active
    one, or a single director), backup elsewhere; none when ``syncdaemon`` is off."""
    if not config.syncdaemon:
        return None
    state = "master" if role.serves else "backup"
    return SyncDaemon(
        state, config.syncd_iface or DEFAULT_SYNC_IFACE, (config.syncd_id or 0) & 0xFF
    )


class RedundancyControl:
    def __init__(
        self,
        paths: RedundancyPaths,
        which: Callable[[str], str | None] = shutil.which,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.paths = paths
        self.which = which
        self.clock = clock
        self.state = RedundancyState()
        self.owns_daemon = False  # a daemon we started, stopped again when syncdaemon goes off

    def step(
        self,
        config: LvsConfig | None,
        driver: Driver | None,
        serial: int | None,
        table_loaded: bool = False,
    ) -> None:
        """``table_loaded``: the worker has loaded the IPVS table since it started."""
        if config is None:
            return
        self.state.enabled = config.redundant
        self._end_handover(config)
        message = self._keepalived(config, driver, serial) if config.redundant else self._single()
        role = read_role(self.paths.role_file)
        message = message or self._sync_daemon(config, role, driver)
        if config.redundant and table_loaded and self.paths.ready_file is not None:
            # After the sync daemon's switch, so that the director leaving FAULT already
            # receives the active one's connections. Never set back to "not ready" here: a
            # worker restart on the active director must not give the VIPs away.
            if keepalived.mark_ready(self.paths.ready_file):
                log.info("ready: the IPVS table is loaded; keepalived may stand by")
        if message != self.state.message and message:
            log.error("redundancy: %s", message)
        self.state.message, self.state.role = message, role

    # --- handing the active role to the peer ------------------------------------------------
    def _end_handover(self, config: LvsConfig) -> None:
        """The yield flag puts this director in FAULT, so the peer takes over; it is cleared once
        the peer has had time to (one takeover interval and a second), and with ``nopreempt``
        this director then stays standby."""
        try:
            set_at = self.paths.yield_file.stat().st_mtime
            flagged = self.paths.yield_file.read_text().strip() not in ("", "0")
        except OSError:
            return
        hold = keepalived.vrrp_timers(config.keepalive, config.deadtime).master_down + 1.0
        if flagged and self.clock() - set_at >= hold:
            keepalived.write_if_changed(self.paths.yield_file, "0\n")
            log.info("hand-over done: this director may be active again if the peer fails")

    # --- keepalived --------------------------------------------------------------------------
    def _single(self) -> str:
        role = read_role(self.paths.role_file)
        if role.role != ROLE_SINGLE:
            write_role(self.paths.role_file, ROLE_SINGLE, "backup_active = 0: the only director")
        if self.paths.conf.exists() and keepalived.write_if_changed(
            self.paths.conf, keepalived.render_off("backup_active = 0")
        ):
            keepalived.reload(self.paths.pid_file)
        self.state.takeover_seconds = None
        return ""

    def _keepalived(self, config: LvsConfig, driver: Driver | None, serial: int | None) -> str:
        timers = keepalived.vrrp_timers(config.keepalive, config.deadtime)
        self.state.takeover_seconds = timers.master_down
        if self.which(self.paths.binary) is None:
            return self._fault(
                f"backup_active = 1 but keepalived ({self.paths.binary}) is not installed: "
                "this director cannot take part in failover (install the keepalived package)"
            )
        if driver is None:
            return self._fault("no kernel access: cannot tell which director this is")
        try:
            local = [(a.address, a.label or a.device) for a in driver.addresses()]
            director = keepalived.whoami(config, local)
            text = keepalived.render(
                config,
                director,
                keepalived.Hooks(
                    self.paths.notify,
                    self.paths.role_file,
                    self.paths.yield_file,
                    self.paths.ready_file,
                ),
                self.paths.router_id,
                self.paths.secret,
                serial,
            )
        except (keepalived.RedundancyError, DriverError) as exc:
            return self._fault(str(exc))
        if keepalived.write_if_changed(self.paths.conf, text):
            ready = self.paths.ready_file
            if (
                ready is not None
                and not ready.exists()
                and keepalived.running_pid(self.paths.pid_file)
            ):
                # A keepalived started before the gate existed (an upgrade) is serving: on this
                # reload, init_file would create the file as "not ready" and put it in FAULT.
                keepalived.mark_ready(ready)
            if keepalived.reload(self.paths.pid_file):
                log.info("keepalived reloaded: %s changed", self.paths.conf)
        if keepalived.running_pid(self.paths.pid_file) is None:
            return self._fault(
                f"keepalived is not running (no live pid in {self.paths.pid_file}); start it "
                f"with its configuration {self.paths.conf}"
            )
        with role_lock(self.paths.role_file):
            if read_role(self.paths.role_file).role == ROLE_SINGLE:
                # keepalived runs but has not said anything yet (or the file went away).
                write_role(self.paths.role_file, ROLE_FAULT, "waiting for keepalived's first state")
        if not timers.within_deadtime:
            return (
                f"deadtime {timers.deadtime} s is shorter than VRRP can promise: the peer "
                f"takes over after about {timers.master_down:g} s"
            )
        return ""

    def _fault(self, message: str) -> str:
        """Record a fault of ours, unless keepalived runs (by now): while it runs, on the
        configuration it has, its last notification (maybe written since we looked) stays the
        truth, and only the message says what is wrong."""
        with role_lock(self.paths.role_file):
            if keepalived.running_pid(self.paths.pid_file) is not None:
                return message
            role = read_role(self.paths.role_file)
            if role.role != ROLE_FAULT or role.reason != message:
                write_role(self.paths.role_file, ROLE_FAULT, message, role.peer)
        return message

    # --- sync daemon -------------------------------------------------------------------------
    def _sync_daemon(self, config: LvsConfig, role: DirectorRole, driver: Driver | None) -> str:
        if driver is None:
            return ""
        wanted = wanted_sync_daemon(config, role)
        try:
            running = driver.sync_daemons()
            if wanted is None:
                if self.owns_daemon:
                    for daemon in running:
                        driver.stop_sync_daemon(daemon.state)
                    self.owns_daemon, running = False, []
                self.state.sync_daemons = running
                return ""
            self._cadence(driver)
            if running != [wanted]:
                # Piranha's pulse, too, stopped both roles before starting the one it wanted.
                for daemon in running:
                    driver.stop_sync_daemon(daemon.state)
                driver.start_sync_daemon(wanted.state, wanted.iface, wanted.syncid)
                log.info(
                    "sync daemon: %s on %s (syncid %d) for role %s",
                    wanted.state, wanted.iface, wanted.syncid, role.role,
                )  # fmt: skip
                running = [wanted]
            self.owns_daemon = True
            self.state.sync_daemons = running
        except DriverError as exc:
            return f"cannot switch the sync daemon: {exc}"
        except OSError as exc:  # the sysctls
            return f"cannot set when the sync daemon sends a connection: {exc}"
        return ""

    def _cadence(self, driver: Driver) -> None:
        """On both directors (the standby is the next master). The kernel's default sends a
        connection once, at its third packet: a standby that starts later (a reboot, a
        keepalived restart) never learns the connections already open, and one lost message
        loses a connection for good. With a refresh, every connection that carries traffic is
        sent again every ``sync_refresh`` seconds, once repeated."""
        if not self.paths.sync_refresh:
            return  # the kernel's (or the administrator's) own settings
        wanted = SyncCadence(SYNC_THRESHOLD, 0, self.paths.sync_refresh, SYNC_RETRIES)
        if driver.sync_cadence() != wanted:
            driver.set_sync_cadence(wanted)
            log.info(
                "sync daemon: each connection sent at its packet %d and again every %d s "
                "(repeated %d time) while it carries traffic",
                wanted.threshold, wanted.refresh_seconds, wanted.retries,
            )  # fmt: skip


def hand_over(yield_file: Path) -> None:
    """Ask keepalived to give the active role to the peer (the operator's hand-over): the track
    file goes non-zero, which puts this director's VRRP instance in FAULT; the worker clears it
    once the peer has taken over."""
    keepalived.write_if_changed(yield_file, "1\n")


def handing_over(yield_file: Path) -> bool:
    try:
        return yield_file.read_text().strip() not in ("", "0")
    except OSError:
        return False
