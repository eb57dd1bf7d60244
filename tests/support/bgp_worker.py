"""The worker's BGP step in a process of its own, as the worker runs it (one step a second), for
the tests that kill it with SIGKILL: a dead process can clean nothing up, so whatever is
withdrawn after its death is withdrawn by how BIRD was started (monitoring.bgp.bird.Bird.start).

    python -m tests.support.bgp_worker CONF SOCKET PID BIRD DIRECTOR_ADDRESS VIP LVS_CF_TEXT
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from monitoring.bgp import bird
from monitoring.bgp.director import BgpControl
from monitoring.ipvs.drivers.base import KernelAddress
from monitoring.ipvs.drivers.memory import MemoryDriver
from virtualservers.lvsconf.parse import parse


def main(argv: list[str]) -> None:
    conf, socket, pid, binary, director, vip, text = argv
    control = BgpControl(bird.BirdPaths(Path(conf), Path(socket), Path(pid), binary))
    driver = MemoryDriver()
    driver.address_list = [
        KernelAddress(director, 24, "eth0", ""),
        KernelAddress(vip, 32, "lo", ""),
    ]
    config = parse(text)[0]
    while True:
        control.step(config, driver, table_loaded=True)
        print(control.state.announced, control.state.message, flush=True)
        time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1:])
