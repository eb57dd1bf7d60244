"""The worker's BGP step: BIRD's configuration kept to what this director can serve, BIRD started
and reconfigured through its own socket, its sessions read, and IPVS set for flows that move
between directors (sloppy_tcp).

Runs on the worker's control thread on each poll, beside the VRRP step. No Django: the worker
passes its paths, its driver and the health it knows; tests pass temporary paths.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitoring.bgp import announce, bird, service
from monitoring.ipvs.drivers.base import Driver, DriverError
from monitoring.live.holds import Held
from virtualservers.lvsconf.model import LvsConfig, RealServerRef

log = logging.getLogger("lvsadmin.worker")
# A connection the router moves to this director arrives mid-flow: IPVS schedules only a SYN
# unless sloppy_tcp is on (sloppy_sctp likewise for SCTP, which lvs.cf cannot say yet).
SLOPPY_SYSCTLS = ("sloppy_tcp",)
# The kernel's IPVS sysctls (the kernel driver's constant, not imported: that module loads
# pyroute2, which only the kernel side may).
IPVS_SYSCTLS = Path("/proc/sys/net/ipv4/vs")


@dataclass
class BgpState:
    """What CONTROL will show, written by the worker to its status file."""

    enabled: bool = False
    in_service: bool = True  # False: an operator took this director out (monitoring.bgp.service)
    announced: list[str] = field(default_factory=list)
    withdrawn: dict[str, str] = field(default_factory=dict)  # VIP -> why
    # name, state, since, since_timestamp, info (BGP's state), established; or only error
    sessions: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""


class BgpControl:
    def __init__(
        self, paths: bird.BirdPaths, sysctls: Path | None = None, service_file: Path | None = None
    ) -> None:
        """``sysctls``: the kernel's IPVS sysctl folder, or None to leave it alone (the memory
        driver on a test host). ``service_file``: the operator's out-of-service flag
        (monitoring.bgp.service), or None when nobody can set one."""
        self.paths = paths
        self.service_file = service_file
        self.bird = bird.Bird(paths)
        self.sysctls = sysctls
        self.state = BgpState()
        self.started = False  # a BIRD this worker started (stopped when the mode is left)

    def step(
        self,
        config: LvsConfig | None,
        driver: Driver | None,
        table_loaded: bool,
        down: Collection[RealServerRef] = (),
        held: Held | None = None,
    ) -> None:
        if config is None or not config.bgp:
            if self.state.enabled or self.started:
                self._leave()
            return
        self.state.enabled = True
        in_service = self.service_file is None or not service.out_of_service(self.service_file)
        self.state.in_service = in_service
        decisions = announce.decide(config, table_loaded, down, held, in_service)
        try:
            self._sloppy()
            self._apply(config, driver, announce.announced(decisions), self._comment(decisions))
            self.state.message = ""
        except (bird.BgpError, DriverError, OSError) as exc:
            if str(exc) != self.state.message:
                log.error("bgp: %s", exc)
            self.state.message = str(exc)
            # Nothing announced by a configuration we could not write: BIRD keeps the last one.
        self.state.withdrawn = {d.vip: d.reason for d in decisions if not d.announce}
        self._read_sessions()

    def withdraw_all(self, config: LvsConfig | None, driver: Driver | None) -> None:
        """The worker stops: nothing it maintains may stay announced. Said to BIRD before the
        worker exits, which then ends BIRD too (Bird.start: it lives only as long as the
        worker)."""
        if config is None or not config.bgp or not self.bird.running():
            return
        try:
            self._apply(config, driver, [], f"nothing announced: {announce.STOPPED}")
            log.info("bgp: every VIP withdrawn (%s)", announce.STOPPED)
        except (bird.BgpError, DriverError, OSError) as exc:
            log.error("bgp: cannot withdraw the VIPs on stop: %s", exc)

    # --- steps -----------------------------------------------------------------------------
    @staticmethod
    def _comment(decisions: Collection[announce.Decision]) -> str:
        held_back = [f"{d.vip} ({d.reason})" for d in decisions if not d.announce]
        return "withdrawn: " + ", ".join(held_back) if held_back else ""

    def _apply(
        self, config: LvsConfig, driver: Driver | None, vips: list[str], comment: str
    ) -> None:
        if driver is None:
            raise bird.BgpError("no kernel access: cannot tell this director's addresses")
        settings = bird.BgpSettings.from_config(config)
        local = [(a.address, a.prefixlen) for a in driver.addresses()]
        sources = bird.source_addresses(settings.routers, local)
        password = bird.read_password(settings.password_file) if settings.password_file else None
        text = bird.render(settings, sources, vips, password, comment)
        changed = _write_if_changed(self.paths.conf, text)
        if not self.bird.alive():
            self.bird.start()
            self.started = True
            log.info("bgp: BIRD started (%s), announcing %s", self.paths.socket, vips or "nothing")
        elif changed:
            self.bird.configure()
            log.info("bgp: BIRD reconfigured, announcing %s", vips or "nothing")
        self.state.announced = vips

    def _sloppy(self) -> None:
        if self.sysctls is None:
            return
        for name in SLOPPY_SYSCTLS:
            path = self.sysctls / name
            if path.read_text().strip() != "1":
                path.write_text("1\n")
                log.info("bgp: net.ipv4.vs.%s = 1 (flows moved from another director)", name)

    def _read_sessions(self) -> None:
        try:
            protocols = self.bird.protocols() if self.bird.running() else []
        except (bird.BgpError, OSError) as exc:
            self.state.sessions = [{"error": str(exc)}]
            return
        self.state.sessions = [
            {
                "name": p.name,
                "state": p.state,
                "since": p.since,
                "since_timestamp": p.since_timestamp(),
                "info": p.info,
                "established": p.established,
            }
            for p in protocols
            if p.proto == "BGP"
        ]

    def _leave(self) -> None:
        """The mode was switched off: stop the BIRD we started (its routes go with it)."""
        if self.started or self.bird.running():
            self.bird.stop()
            log.info("bgp: BIRD stopped (bgp = 0)")
        self.started = False
        self.state = BgpState()


def _write_if_changed(path: Path, text: str) -> bool:
    """Written 0600: the configuration holds the MD5 password when there is one."""
    try:
        if path.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text(text)
    tmp.replace(path)
    return True
