"""IPVS benchmark, run inside the lab VM as root (`make bench` boots it): our netlink driver
against ipvsadm on the same kernel, and against pyroute2's per-entry IPVS API.

    LAB_MODE=bench bash scripts/lab.sh

Figures are for ratios between things measured in the same VM (QEMU/TCG), never absolute.
Goals: a full load no slower than ipvsadm-restore, one weight change = one netlink operation,
a dump no slower than `ipvsadm -Ln`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitoring.ipvs.drivers.ipvs_family import ensure_ipvs_module  # noqa: E402
from monitoring.ipvs.drivers.kernel import NetlinkDriver  # noqa: E402
from monitoring.ipvs.table import Destination, Service, ServiceEntry, ServiceKey, diff  # noqa: E402

SERVICES, DESTS = 1000, 10
NAIVE_SERVICES = 100  # pyroute2's per-entry API is measured on a tenth of the table


def table(services: int = SERVICES) -> dict:
    result = {}
    for i in range(services):
        key = ServiceKey.for_address("tcp", f"198.51.100.{i % 250 + 1}", 10000 + i)
        entry = ServiceEntry(Service(key, "wlc"))
        for j in range(DESTS):
            # Direct routing cannot change ports, and ipvsadm stores a DR destination with the
            # service's port; using it here keeps ipvsadm-restore's table identical to ours.
            dest = Destination(f"203.0.113.{j + 1}", key.port, "route", 1)
            entry.destinations[dest.key] = dest
        result[key] = entry
    return result


def ipvsadm(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(
        ["ipvsadm", *args], input=stdin, capture_output=True, text=True, check=True
    ).stdout


def timed(func) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def best(func, runs: int = 3, before=None) -> float:
    times = []
    for _ in range(runs):
        if before:
            before()
        times.append(timed(func))
    return min(times)


def main() -> int:
    ensure_ipvs_module()
    driver = NetlinkDriver()
    want = table()
    entries = SERVICES * (1 + DESTS)
    flush = lambda: ipvsadm("-C")  # noqa: E731

    ours_load = best(lambda: driver.apply(diff({}, want, set())), before=flush)
    assert len(driver.dump()) == SERVICES
    saved = ipvsadm("-S", "-n")
    restore = shutil.which("ipvsadm-restore")
    restore_cmd = [restore] if restore else ["ipvsadm", "-R"]
    restore_load = best(
        lambda: subprocess.run(restore_cmd, input=saved, text=True, check=True), before=flush
    )
    restored = ipvsadm("-S", "-n").count("\n")
    assert restored == saved.count("\n"), (
        f"ipvsadm-restore loaded {restored} lines of {saved.count(chr(10))}"
    )

    # One weight change on the full table: time for dump + diff + apply, and messages sent.
    current = driver.dump()
    changed = {k: ServiceEntry(v.service, dict(v.destinations)) for k, v in want.items()}
    first = sorted(changed)[0]
    dest = sorted(changed[first].destinations.values(), key=lambda d: d.key)[0]
    changed[first].destinations[dest.key] = Destination(dest.address, dest.port, "route", 7)
    sent_before = driver.messages_sent
    ops = diff(current, changed, set(want))
    change_apply = timed(lambda: driver.apply(ops))
    messages = driver.messages_sent - sent_before
    change_total = timed(lambda: driver.apply(diff(driver.dump(), want, set(want))))
    assert "-w 7" not in ipvsadm("-S", "-n")  # changed back

    ours_dump = best(driver.dump)
    assert driver.ipvs.dump_proc() is not None, "the dump did not come from /proc/net/ip_vs"
    netlink_dump = best(driver.ipvs.dump_netlink)
    assert driver.ipvs.dump_netlink() == driver.dump()
    ipvsadm_dump = best(
        lambda: subprocess.run(["ipvsadm", "-Ln"], stdout=subprocess.DEVNULL, check=True)
    )

    # pyroute2's own per-entry API, on a tenth of the table, for the record of what we chose.
    from pyroute2 import IPVS, IPVSDest, IPVSService

    ipvsadm("-C")
    small = table(NAIVE_SERVICES)
    ipvs = IPVS()

    def naive_load() -> None:
        for key, entry in small.items():
            svc = IPVSService(
                addr=key.address, port=key.port, protocol=socket.IPPROTO_TCP, sched_name="wlc"
            )
            ipvs.service("add", service=svc)
            for d in entry.destinations.values():
                ipvs.dest(
                    "add",
                    service=svc,
                    dest=IPVSDest(addr=d.address, port=d.port, fwd_method=3, weight=1),
                )

    naive_load_s = timed(naive_load)

    def naive_dump() -> None:
        for s in ipvs.service("dump"):
            svc = IPVSService.from_message(s)
            list(ipvs.dest("dump", service=svc))

    naive_dump_s = best(naive_dump)
    ours_small_dump = best(driver.dump)
    ipvsadm_small_dump = best(
        lambda: subprocess.run(["ipvsadm", "-Ln"], stdout=subprocess.DEVNULL, check=True)
    )
    ipvsadm("-C")
    ipvs.close()
    driver.close()

    print(
        f"IPVS table: {SERVICES} services x {DESTS} destinations = {entries} entries (kernel {os.uname().release})"
    )
    print(
        f"full load from empty: lvsadmin netlink {ours_load * 1000:.0f} ms, ipvsadm-restore {restore_load * 1000:.0f} ms"
        f" -> ratio {ours_load / restore_load:.2f} (goal <= 1.00)"
    )
    print(
        f"one weight change: {len(ops)} operation, {messages} netlink message, apply {change_apply * 1000:.1f} ms"
        f" (dump + diff + apply back {change_total * 1000:.0f} ms) (goal: 1 operation)"
    )
    print(
        f"dump: lvsadmin {ours_dump * 1000:.0f} ms (/proc/net/ip_vs), ipvsadm -Ln {ipvsadm_dump * 1000:.0f} ms"
        f" -> ratio {ours_dump / ipvsadm_dump:.2f} (goal <= 1.00);"
        f" over netlink (a request per service) {netlink_dump * 1000:.0f} ms, ratio {netlink_dump / ipvsadm_dump:.2f}"
    )
    print(
        f"pyroute2 per-entry API on {NAIVE_SERVICES}x{DESTS}: load {naive_load_s * 1000:.0f} ms"
        f" (~{naive_load_s * SERVICES / NAIVE_SERVICES * 1000:.0f} ms scaled to {SERVICES}x{DESTS},"
        f" {naive_load_s * SERVICES / NAIVE_SERVICES / ours_load:.1f}x ours), dump {naive_dump_s * 1000:.0f} ms vs ours"
        f" {ours_small_dump * 1000:.0f} ms and ipvsadm -Ln {ipvsadm_small_dump * 1000:.0f} ms"
    )
    ok = (
        ours_load <= restore_load * 1.0
        and len(ops) == 1
        and messages == 1
        and ours_dump <= ipvsadm_dump
    )
    print("goals met" if ok else "goals NOT all met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
