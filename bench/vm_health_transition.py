"""From a health transition to the kernel, at 1,000 virtual servers x 10 real servers, in the lab
VM as root (`make bench` runs every bench/vm_*.py there).

The one writer remembers what it wrote, so a real server going down is diffed against that
memory and sent as its own netlink message; the full converge (dump, diff, VIPs, timeouts) is
what drift repair pays on its own schedule. Both are printed, with the ratio. Figures are for
ratios within the VM (QEMU/TCG), never absolute. Goal: a transition is 1 operation and no dump,
and a full converge of the unchanged table sends nothing. Exits 0 when it ran; a missed goal is
printed as MISSED, with what was sent.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitoring.ipvs.drivers import get_driver  # noqa: E402
from monitoring.ipvs.written import WrittenTable  # noqa: E402
from virtualservers.lvsconf.model import (  # noqa: E402
    LvsConfig,
    RealServer,
    RealServerRef,  # noqa: E402
    VirtualServer,
)

VIRTUALS, SERVERS = 1000, 10


def config() -> LvsConfig:
    return LvsConfig(
        network="direct",
        virtuals=[
            VirtualServer(
                name=f"v{i}",
                active=True,
                address=f"198.51.100.{i % 250 + 1}",
                port=10000 + i,
                servers=[
                    RealServer(name=f"r{j}", address=f"203.0.113.{j + 1}", active=True)
                    for j in range(SERVERS)
                ],
            )
            for i in range(VIRTUALS)
        ],
    )


class Counting:
    """The real driver, counting the dumps and the operations sent."""

    def __init__(self, driver) -> None:
        self.driver, self.dumps, self.ops = driver, 0, 0

    def dump(self):
        self.dumps += 1
        return self.driver.dump()

    def apply(self, ops):
        self.ops += len(ops)
        return self.driver.apply(ops)

    def __getattr__(self, name):
        return getattr(self.driver, name)


def main() -> int:
    subprocess.run(["ipvsadm", "-C"], check=True)
    driver = Counting(get_driver("netlink"))
    with tempfile.TemporaryDirectory() as state_dir:
        writer = WrittenTable(driver, Path(state_dir) / "state.json", arp_count=0)
        cf = config()
        started = time.perf_counter()
        result = writer.converge(cf)
        load = time.perf_counter() - started
        assert result.ok, result.error
        transitions, converges = [], []
        dumps_before, ops_before = driver.dumps, driver.ops
        for i in range(20):
            down = {RealServerRef(f"v{i * 37}", "203.0.113.4", 10000 + i * 37)}
            started = time.perf_counter()
            result = writer.update(cf, down)  # down
            transitions.append(time.perf_counter() - started)
            assert result.ok, result.error
            started = time.perf_counter()
            writer.update(cf, set())  # and back
            transitions.append(time.perf_counter() - started)
        transition_dumps = driver.dumps - dumps_before
        transition_ops = driver.ops - ops_before
        idle_ops = []
        for _ in range(3):
            started = time.perf_counter()
            result = writer.converge(cf)
            converges.append(time.perf_counter() - started)
            assert result.ok, result.error
            idle_ops += [op.to_ipvsadm() for op in result.ops]
    subprocess.run(["ipvsadm", "-C"], check=True)
    transition = statistics.median(transitions)
    converge = min(converges)
    print(f"initial load {VIRTUALS} x {SERVERS}: {load * 1000:.0f} ms")
    print(
        f"health transition to the kernel (median of {len(transitions)}): "
        f"{transition * 1000:.1f} ms, {transition_ops / len(transitions):.0f} operation each, "
        f"{transition_dumps} dumps"
    )
    print(
        f"full converge with nothing to do (drift repair's cost): {converge * 1000:.0f} ms, "
        f"{len(idle_ops)} operations in {len(converges)}"
        + (f" (first: {'; '.join(idle_ops[:3])})" if idle_ops else "")
    )
    print(f"ratio transition / full converge: {transition / converge:.4f}")
    ok = transition_dumps == 0 and transition_ops == len(transitions) and not idle_ops
    print(f"goal {'met' if ok else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
