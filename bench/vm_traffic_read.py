"""The worker's read of the traffic counters for /metrics at 1,000 and 10,000 virtual servers x 10
real servers, in the lab VM as root (`make bench` runs every bench/vm_*.py there;
`LAB_MODE=bench scripts/lab.sh bench/vm_traffic_read.py` runs this one).

The counters exist only over netlink (one request per service); the worker reads them every
TRAFFIC_EVERY seconds on its status thread, on a socket of its own, taking of each service only
its key and counters (codec.ServiceCounters) and of each destination only its address, port and
counters (codec.DestTraffic), Python's garbage collector paused meanwhile. Printed for each size: that read beside
`ipvsadm -Ln --stats --exact` (the ratio is what means something under QEMU/TCG), the full netlink
dump that the read was before (every attribute of every destination), and the share of one core
each costs at the worker's interval. Goal: no slower than ipvsadm's own read of the same counters.
Exits 0 when it ran; a missed goal is printed as MISSED.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The same table and timing as the load and dump benchmark.
from bench_ipvs import DESTS, best, table  # noqa: E402

from monitoring.ipvs.drivers.ipvs_family import ensure_ipvs_module  # noqa: E402
from monitoring.ipvs.drivers.kernel import NetlinkDriver  # noqa: E402
from monitoring.ipvs.table import diff  # noqa: E402
from monitoring.metrics.counters import TRAFFIC_EVERY  # noqa: E402

SIZES = (1000, 10_000)


def ipvsadm_stats() -> None:
    subprocess.run(["ipvsadm", "-Ln", "--stats", "--exact"], stdout=subprocess.DEVNULL, check=True)


def measure(driver: NetlinkDriver, services: int) -> tuple[float, float, float]:
    """(our read, ipvsadm's, the full netlink dump) in seconds, each the best of a few runs taken
    in turns, so that the three share whatever else loads the machine."""
    subprocess.run(["ipvsadm", "-C"], check=True)
    driver.apply(diff({}, table(services), set()))
    read = driver.traffic()
    assert sum(len(entry.destinations) for entry in read.values()) == services * DESTS
    times: list[list[float]] = [[], [], []]
    for _ in range(3 if services <= 1000 else 2):
        for kind, func in enumerate((driver.traffic, ipvsadm_stats, driver.ipvs.dump_netlink)):
            times[kind].append(best(func, 1))
    ours, stats, full = (min(each) for each in times)
    return ours, stats, full


def main() -> int:
    ensure_ipvs_module()
    driver = NetlinkDriver()
    print(
        f"traffic counters for /metrics (kernel {os.uname().release}), read every "
        f"{TRAFFIC_EVERY:g} s:",
        flush=True,
    )
    met = True
    try:
        for services in SIZES:  # each line as soon as measured: 10,000 x 10 takes minutes
            ours, stats, full = measure(driver, services)
            print(
                f"  {services} x {DESTS}: lvsadmin {ours * 1000:.0f} ms ({ours / TRAFFIC_EVERY:.1%}"
                f" of a core), ipvsadm -Ln --stats --exact {stats * 1000:.0f} ms "
                f"({stats / TRAFFIC_EVERY:.1%}) -> ratio {ours / stats:.2f} (goal <= 1.00); the "
                f"full netlink dump {full * 1000:.0f} ms ({full / TRAFFIC_EVERY:.1%})",
                flush=True,
            )
            met &= ours <= stats
    finally:
        subprocess.run(["ipvsadm", "-C"], check=False)
        driver.close()
    print(f"  goal {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
