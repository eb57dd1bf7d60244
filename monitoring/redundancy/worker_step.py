"""The worker's side of two directors: the redundancy step (monitoring/redundancy/director.py)
with the settings' paths, and its state written for CONTROL/MONITORING.

The state goes to a small JSON file beside the role file rather than into the worker's status
row: the web process reads both the same way, and no migration is needed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict

from monitoring.ipvs.drivers.base import Driver
from monitoring.redundancy import keepalived
from monitoring.redundancy.conf import redundancy
from monitoring.redundancy.director import RedundancyControl, RedundancyPaths
from virtualservers.lvsconf.model import LvsConfig

log = logging.getLogger("lvsadmin.worker")


def paths_from_settings() -> RedundancyPaths:
    return redundancy().paths()


class WorkerRedundancy:
    def __init__(self, control: RedundancyControl | None = None) -> None:
        self.control = control or RedundancyControl(paths_from_settings())
        self.status_path = redundancy().status_file
        self.written = ""

    def step(
        self,
        config: LvsConfig | None,
        driver: Driver | None,
        serial: int | None,
        table_loaded: bool = False,
    ) -> None:
        try:
            self.control.step(config, driver, serial, table_loaded)
        except OSError as exc:
            self.control.state.message = f"redundancy: {exc}"
            log.error("redundancy step failed: %s", exc)
        state = self.control.state
        data = asdict(state)
        data["keepalived_conf"] = str(self.control.paths.conf)
        text = json.dumps(data, sort_keys=True)
        # A single director that never had redundancy writes nothing (as before this existed).
        if text != self.written and (state.enabled or self.status_path.exists()):
            try:
                keepalived.write_if_changed(self.status_path, text + "\n")
                self.written = text
            except OSError as exc:
                log.warning("cannot write %s: %s", self.status_path, exc)
