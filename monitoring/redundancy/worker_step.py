"""The worker's side of two directors: the redundancy step (monitoring/redundancy/director.py)
with the settings' paths, the BGP step (monitoring/bgp/director.py) beside it, and their state
written for CONTROL/MONITORING.

The state goes to a small JSON file beside the role file rather than into the worker's status
row: the web process reads both the same way, and no migration is needed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection
from dataclasses import asdict

from monitoring.bgp.conf import bird_paths, service_file
from monitoring.bgp.director import IPVS_SYSCTLS, BgpControl
from monitoring.ipvs.drivers.base import Driver
from monitoring.live.holds import Held
from monitoring.notify.announce import BgpSeen
from monitoring.redundancy import keepalived
from monitoring.redundancy.conf import redundancy
from monitoring.redundancy.director import RedundancyControl, RedundancyPaths
from virtualservers.lvsconf.model import LvsConfig, RealServerRef

log = logging.getLogger("lvsadmin.worker")


def paths_from_settings() -> RedundancyPaths:
    return redundancy().paths()


class WorkerRedundancy:
    def __init__(
        self, control: RedundancyControl | None = None, bgp: BgpControl | None = None
    ) -> None:
        self.control = control or RedundancyControl(paths_from_settings())
        self.bgp = bgp or BgpControl(bird_paths(), service_file=service_file())
        self.status_path = redundancy().status_file
        self.written = ""

    def step(
        self,
        config: LvsConfig | None,
        driver: Driver | None,
        serial: int | None,
        table_loaded: bool = False,
        down: Collection[RealServerRef] = (),
        held: Held | None = None,
    ) -> None:
        try:
            self.control.step(config, driver, serial, table_loaded)
        except OSError as exc:
            self.control.state.message = f"redundancy: {exc}"
            log.error("redundancy step failed: %s", exc)
        # sloppy_tcp only on the real kernel (the memory driver must not touch the host's).
        self.bgp.sysctls = IPVS_SYSCTLS if getattr(driver, "name", "") == "netlink" else None
        self.bgp.step(config, driver, table_loaded, down, held)
        self._write_status()

    def bgp_seen(self) -> BgpSeen | None:
        """The BGP step's sessions and VIPs as the notifications compare them (None: not in
        BGP mode)."""
        state = self.bgp.state
        if not state.enabled:
            return None
        sessions = {s["name"]: s.get("info", "") for s in state.sessions if "name" in s}
        return BgpSeen(sessions, {**dict.fromkeys(state.announced, ""), **state.withdrawn})

    def stopped(self, config: LvsConfig | None, driver: Driver | None) -> None:
        """The worker stops: withdraw every VIP (nobody maintains the table any more)."""
        self.bgp.withdraw_all(config, driver)

    def _write_status(self) -> None:
        state = self.control.state
        data = asdict(state)
        data["keepalived_conf"] = str(self.control.paths.conf)
        if self.bgp.state.enabled:
            data["bgp"] = asdict(self.bgp.state)
        text = json.dumps(data, sort_keys=True)
        # A single director that never had redundancy writes nothing (as before this existed).
        enabled = state.enabled or self.bgp.state.enabled
        if text != self.written and (enabled or self.status_path.exists()):
            try:
                keepalived.write_if_changed(self.status_path, text + "\n")
                self.written = text
            except OSError as exc:
                log.warning("cannot write %s: %s", self.status_path, exc)
