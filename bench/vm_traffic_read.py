"""The worker's read of the traffic counters for /metrics at 1,000 virtual servers x 10 real
servers, in the lab VM as root (`make bench` runs every bench/vm_*.py there;
`LAB_MODE=bench scripts/lab.sh bench/vm_traffic_read.py` runs this one).

The counters exist only over netlink (one request per service); the worker reads them every
worker_metrics.TRAFFIC_EVERY seconds on its status thread, on a socket of its own. Printed: that
read beside `ipvsadm -Ln --stats --exact` (the ratio is what means something under QEMU/TCG),
the same read without decoding the counters, and the share of one core it costs at its interval.
Goal: no slower than ipvsadm's own read of the same counters.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitoring.ipvs import ipvs_codec  # noqa: E402
from monitoring.ipvs.ipvs_netlink import ensure_ipvs_module  # noqa: E402
from monitoring.ipvs.kernel import NetlinkDriver  # noqa: E402
from monitoring.ipvs.table import Destination, Service, ServiceEntry, ServiceKey, diff  # noqa: E402
from monitoring.worker_metrics import TRAFFIC_EVERY  # noqa: E402

SERVICES, DESTS = 1000, 10


def table() -> dict:
    result = {}
    for i in range(SERVICES):
        key = ServiceKey.for_address("tcp", f"198.51.100.{i % 250 + 1}", 10000 + i)
        entry = ServiceEntry(Service(key, "wlc"))
        for j in range(DESTS):
            dest = Destination(f"203.0.113.{j + 1}", key.port, "route", 1)
            entry.destinations[dest.key] = dest
        result[key] = entry
    return result


def best(func, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    ensure_ipvs_module()
    subprocess.run(["ipvsadm", "-C"], check=True)
    driver = NetlinkDriver()
    try:
        driver.apply(diff({}, table(), set()))
        read = driver.traffic()
        assert sum(len(entry.destinations) for entry in read.values()) == SERVICES * DESTS
        assert all(entry.service.traffic is not None for entry in read.values())
        ours = best(driver.traffic)
        stats = best(
            lambda: subprocess.run(
                ["ipvsadm", "-Ln", "--stats", "--exact"], stdout=subprocess.DEVNULL, check=True
            )
        )
        # The same dump with the counters left undecoded: what decoding them adds.
        decode, ipvs_codec._traffic = ipvs_codec._traffic, lambda *_args: None
        try:
            undecoded = best(driver.traffic)
        finally:
            ipvs_codec._traffic = decode
    finally:
        subprocess.run(["ipvsadm", "-C"], check=False)
        driver.close()
    print(
        f"traffic counters, {SERVICES} x {DESTS} (kernel {os.uname().release}): lvsadmin "
        f"{ours * 1000:.0f} ms, ipvsadm -Ln --stats --exact {stats * 1000:.0f} ms -> ratio "
        f"{ours / stats:.2f} (goal <= 1.00); without decoding the counters {undecoded * 1000:.0f}"
        f" ms; every {TRAFFIC_EVERY:g} s that is {ours / TRAFFIC_EVERY:.1%} of a core"
    )
    print("goals met" if ours <= stats else "goals NOT all met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
