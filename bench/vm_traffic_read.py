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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The same 1,000 x 10 table and timing as the load and dump benchmark.
from bench_ipvs import DESTS, SERVICES, best, table  # noqa: E402

from monitoring.ipvs import ipvs_codec  # noqa: E402
from monitoring.ipvs.drivers.ipvs_family import ensure_ipvs_module  # noqa: E402
from monitoring.ipvs.drivers.kernel import NetlinkDriver  # noqa: E402
from monitoring.ipvs.table import diff  # noqa: E402
from monitoring.metrics.counters import TRAFFIC_EVERY  # noqa: E402


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
