"""The driver reads the real kernel's table the same way whichever path it takes: from
/proc/net/ip_vs (one read) and over netlink (a request per service), for every kind of service,
forwarding method and persistence, with live counters; and `ipvsadm -Ln` agrees."""

from __future__ import annotations

import pytest

from monitoring.ipvs.drivers.kernel import NetlinkDriver
from monitoring.ipvs.table import Destination, Service, ServiceEntry, ServiceKey, diff, format_table
from scripts.testbed.topology import BRIDGE, VIP, mysql_connect, run
from tests.lab import ipvsadm


def entry(service: Service, *destinations: Destination) -> ServiceEntry:
    return ServiceEntry(service, {d.key: d for d in destinations})


def mixed_table() -> dict:
    mysql = ServiceKey.for_address("tcp", VIP, 3306)
    dns = ServiceKey.for_address("udp", "198.51.100.53", 53)
    marked = ServiceKey.for_fwmark(7)
    marked6 = ServiceKey.for_fwmark(8, 6)
    web6 = ServiceKey.for_address("tcp", "2001:db8::80", 80)
    wanted = [
        entry(
            Service(mysql, "lc"),
            Destination("192.0.2.241", 3306, "route", 1),
            Destination("192.0.2.242", 3306, "route", 3),
        ),
        entry(
            Service(dns, "rr", 300, "255.255.255.0"),
            Destination("203.0.113.1", 53, "tunnel", 5),
            Destination("203.0.113.2", 5353, "masq", 0),
        ),
        entry(Service(marked, "wlc", 60), Destination("198.51.100.1", 80, "masq", 2)),
        entry(Service(marked6, "sh"), Destination("2001:db8::1", 80, "masq", 1)),
        entry(Service(web6, "sed"), Destination("2001:db8::2", 8080, "masq", 1)),
    ]
    return {e.service.key: e for e in wanted}


def settings(table: dict) -> dict:
    """A table without its connection counters: services, and each destination's forwarding
    method and weight."""
    return {
        key: (entry.service, {d: x.attributes() for d, x in entry.destinations.items()})
        for key, entry in table.items()
    }


@pytest.fixture
def driver():
    instance = NetlinkDriver()
    yield instance
    instance.close()


def test_proc_and_netlink_read_the_same_table(driver) -> None:
    wanted = mixed_table()
    driver.apply(diff({}, wanted, set()))
    run("ip", "addr", "add", f"{VIP}/32", "dev", BRIDGE, "label", f"{BRIDGE}:9")
    # Live counters too: a held MySQL connection through the VIP counts as ActiveConn.
    connection = mysql_connect(VIP)
    try:
        from_proc = driver.ipvs.dump_proc()
        from_netlink = driver.ipvs.dump_netlink()
    finally:
        connection.close()
    assert from_proc is not None
    # Counters move between two reads (old connections of an earlier test expire), so the two
    # reads are compared on everything else, and each is compared with what was applied.
    assert settings(from_proc) == settings(from_netlink) == settings(wanted)
    held = from_proc[ServiceKey.for_address("tcp", VIP, 3306)].destinations.values()
    assert sum(d.active_conn for d in held) >= 1  # the held connection, in the ActiveConn column
    assert settings(driver.dump()) == settings(from_proc)
    # And what the GUI shows is what ipvsadm prints.
    assert sorted(ipvsadm.shape(format_table(driver.dump()))) == sorted(ipvsadm.shape())


def test_a_mark_that_is_both_an_ipv4_and_an_ipv6_service_is_read_over_netlink(driver) -> None:
    both = {
        ServiceKey.for_fwmark(9): entry(Service(ServiceKey.for_fwmark(9), "rr")),
        ServiceKey.for_fwmark(9, 6): entry(Service(ServiceKey.for_fwmark(9, 6), "wlc")),
    }
    driver.apply(diff({}, both, set()))
    assert driver.ipvs.dump_proc() is None  # /proc/net/ip_vs prints both as "FWM  00000009"
    assert {k: e.service.scheduler for k, e in driver.dump().items()} == {
        ServiceKey.for_fwmark(9): "rr",
        ServiceKey.for_fwmark(9, 6): "wlc",
    }
