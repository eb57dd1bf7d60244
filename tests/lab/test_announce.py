"""A VIP that applylvs brings up is announced by gratuitous ARP, as pulse's send_arp did, so that
clients and routers learn its new home without waiting for their ARP entries to expire (the
failover case). Seen from the client namespace: with arp_accept on, the announcement alone
creates its ARP entry for the VIP, with the director's MAC address."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.testbed import lvscf
from scripts.testbed.topology import BRIDGE, CLIENT, VIP, run
from tests.lab.product import Applier


@pytest.fixture
def listening_client() -> Iterator[None]:
    """The client accepts unsolicited ARP (as a router configured for failover would)."""
    run("sysctl", "-qw", "net.ipv4.conf.all.arp_accept=1", ns=CLIENT)
    run("ip", "neigh", "flush", "to", VIP, ns=CLIENT)
    yield
    run("sysctl", "-qw", "net.ipv4.conf.all.arp_accept=0", ns=CLIENT)
    run("ip", "neigh", "flush", "to", VIP, ns=CLIENT)


def client_entry_for_vip() -> str:
    return run("ip", "neigh", "show", "to", VIP, ns=CLIENT).stdout.strip()


def seed() -> str:
    return lvscf.config(
        lvscf.virtual(
            "mysql", address=VIP, port=3306, scheduler="lc", servers=lvscf.mysql_servers()
        )
    )


def test_a_new_vip_is_announced_and_the_client_learns_the_directors_mac(
    applier: Applier, listening_client: None
) -> None:
    director_mac = Path(f"/sys/class/net/{BRIDGE}/address").read_text().strip()
    assert client_entry_for_vip() == ""
    applier.apply(seed(), in_process=True)  # waits for its five announcements, 1 s apart
    entry = client_entry_for_vip()
    assert f"lladdr {director_mac}" in entry, entry


def test_without_announcements_the_client_learns_nothing(
    applier: Applier, listening_client: None
) -> None:
    # The negative control: the client sends nothing to the VIP, so only an announcement could
    # have taught it the address.
    applier.apply(seed(), "--no-arp", in_process=True)
    time.sleep(2)
    assert client_entry_for_vip() == ""
