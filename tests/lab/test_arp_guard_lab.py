"""The ARP guard with the worker running against the real kernel: a real server of the DR seed
that stops suppressing ARP (arp_ignore back to 0: it answers for the VIP on its lo) is named on
CONTROL/MONITORING within one guard interval, and the warning ends once it suppresses ARP again.
The waits follow the guard's own timer (EVERY_SECONDS), plus the round's half-second wait."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring.arpguard.guard import EVERY_SECONDS
from monitoring.arpguard.watch import read_conflicts
from scripts.testbed.topology import VIP, run, sysctl
from tests.lab.test_worker_lab import publish, seed, seed_running, wait_for, worker  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
RS1_ADDRESS = "192.0.2.241"
ROUND = EVERY_SECONDS + 10  # one interval, its tick and the round's wait, with room under TCG


def arp_ignore(value: str) -> None:
    for scope in ("all", "eth0"):
        sysctl(f"net.ipv4.conf.{scope}.arp_ignore", value, ns="rs1")


def test_a_real_server_answering_arp_for_the_vip_is_named_and_then_cleared(
    topology,
    worker,  # noqa: F811 (the worker's fixture, imported)
    settings,
    admin_client,
):
    instance, thread = worker
    state = Path(settings.LVSADMIN_APPLY_STATE)
    publish(seed())
    thread.start()
    seed_running()
    wait_for(lambda: read_conflicts(state).get("guarded") == 1, ROUND, "the guard's first round")
    assert read_conflicts(state)["conflicts"] == []  # the seed's real servers suppress ARP

    rs1_mac = run("cat", "/sys/class/net/eth0/address", ns="rs1").stdout.strip()
    try:
        arp_ignore("0")
        wait_for(lambda: read_conflicts(state).get("conflicts"), ROUND, "the conflict")
        [conflict] = read_conflicts(state)["conflicts"]
        assert (conflict["vip"], conflict["mac"], conflict["owner"]) == (VIP, rs1_mac, RS1_ADDRESS)
        html = admin_client.get("/live/").content.decode()
        assert f"VIP {VIP} is answered by real server {RS1_ADDRESS} ({rs1_mac})" in html
    finally:
        arp_ignore("1")
    wait_for(lambda: read_conflicts(state).get("conflicts") == [], ROUND, "the conflict's end")
