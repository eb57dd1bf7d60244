"""The ARP guard's cost: one round over many VIPs, in network namespaces of the benchmark's own.

    .venv/bin/python bench/bench_arp_guard.py

A director namespace and a "LAN" namespace joined by a veth pair; the LAN carries 10 of the
VIPs on its lo without ARP suppression (10 conflicts to find). The VIPs are TEST-NET addresses
(all three ranges: 750 of them), nothing leaves the namespaces. A round is what the worker's
guard thread does every 30 s: probe every due VIP, listen half a second, record. Printed: CPU
per round, its share of a core over the 30-s interval, and the conflicts found. Needs root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = 5
ANSWERING = 10

ROUND = """
import json, resource, sys, tempfile, time
from pathlib import Path
from monitoring.arpguard import watch
from virtualservers.lvsconf.model import LvsConfig, VirtualServer

vips = json.loads(sys.argv[1])
config = LvsConfig(primary="192.0.2.1", virtuals=[
    VirtualServer(name=f"v{i}", active=True, address=vip, device="dir0:1", port=80)
    for i, vip in enumerate(vips)])
clock = [1000.0]
guard = watch.ArpWatch(Path(tempfile.mkdtemp()) / "state", lambda: config, lambda e: None,
                       lambda: {"192.0.2.1"}, clock=lambda: clock[0])
cpu, wall = [], []
for _ in range(int(sys.argv[2])):
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    guard.step()
    after = resource.getrusage(resource.RUSAGE_SELF)
    wall.append(time.perf_counter() - started)
    cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    clock[0] += 30
print(json.dumps({"cpu": cpu, "wall": wall, "conflicts": len(guard.guard.current())}))
"""


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=300)


def vips() -> list[str]:
    found = [f"192.0.2.{i}" for i in range(10, 255)]
    found += [f"198.51.100.{i}" for i in range(1, 254)]
    found += [f"203.0.113.{i}" for i in range(1, 253)]
    return found


def main() -> int:
    if os.geteuid() != 0:
        print("bench_arp_guard: needs root (network namespaces); not run")
        return 0
    director, lan = f"lvsbd{os.getpid()}", f"lvsbl{os.getpid()}"
    run("ip", "netns", "add", director)
    run("ip", "netns", "add", lan)
    try:
        run("ip", "-n", director, "link", "add", "dir0", "type", "veth", "peer", "name", "lan0",
            "netns", lan)  # fmt: skip
        run("ip", "-n", director, "addr", "add", "192.0.2.1/24", "dev", "dir0")
        run("ip", "-n", lan, "addr", "add", "192.0.2.2/24", "dev", "lan0")
        all_vips = vips()
        for vip in all_vips[:ANSWERING]:
            run("ip", "-n", lan, "addr", "add", f"{vip}/32", "dev", "lo")
        for ns, dev in ((director, "dir0"), (lan, "lan0"), (director, "lo"), (lan, "lo")):
            run("ip", "-n", ns, "link", "set", dev, "up")
        out = subprocess.run(
            ["ip", "netns", "exec", director, sys.executable, "-c", ROUND, json.dumps(all_vips),
             str(ROUNDS)],
            capture_output=True, text=True, cwd=ROOT, timeout=300, check=True,
        )  # fmt: skip
        result = json.loads(out.stdout)
    finally:
        run("ip", "netns", "delete", director, check=False)
        run("ip", "netns", "delete", lan, check=False)
    cpu = sorted(result["cpu"])
    wall = sorted(result["wall"])
    median_cpu, median_wall = cpu[len(cpu) // 2], wall[len(wall) // 2]
    print(f"ARP guard, one round over {len(all_vips)} VIPs ({ANSWERING} answered by a stranger):")
    print(f"  CPU per round: median {median_cpu * 1000:.1f} ms (min {cpu[0] * 1000:.1f}, "
          f"max {cpu[-1] * 1000:.1f}); wall {median_wall * 1000:.0f} ms (the 0.5 s listening "
          "window included)")  # fmt: skip
    print(f"  share of a core, one round every 30 s: {median_cpu / 30 * 100:.3f}%")
    print(f"  conflicts found: {result['conflicts']} of {ANSWERING}")
    ok = result["conflicts"] == ANSWERING
    print(f"RESULT: {'OK' if ok else 'FAIL'} (every stranger found; goal: < 1% of a core)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
