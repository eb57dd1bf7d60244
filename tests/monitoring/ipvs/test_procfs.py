"""The reading of /proc/net/ip_vs, on the kernel's own text (the lab checks it against a netlink
dump of a real table). The host kernel has no IPVS, so the one netlink dump of the services the
text needs is given here as plain data."""

from __future__ import annotations

import pytest

from monitoring.ipvs.drivers import procfs
from monitoring.ipvs.table import Destination, Service, ServiceKey

# As the kernel prints it (ip_vs_info_seq_show), for a DR MySQL service, a persistent UDP
# service with a netmask (its 300 s printed in jiffies of a HZ=250 kernel), a firewall mark, and
# an IPv6 NAT service.
PROC = """IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port Forward Weight ActiveConn InActConn
TCP  C00002F0:0CEA lc \n  -> C00002F2:0CEA      Route   1      3          0         \n  -> C00002F1:0CEA      Route   0      0          12        \nUDP  C00002F0:0035 rr persistent 75000 FFFFFF00
  -> CB007101:0035      Tunnel  5      0          0         \nFWM  00000005 wlc \n  -> C6336401:0050      Masq    2      1          1         \nTCP  [2001:0db8:0000:0000:0000:0000:0000:0080]:0050 sh ops \n  -> [2001:0db8:0000:0000:0000:0000:0000:0001]:1F90      Masq    1      0          0         \n"""


DNS = ServiceKey.for_address("udp", "192.0.2.240", 53)


def read(tmp_path, text: str | None, marks: dict[int, set[int]]):
    """The table read from `text` as /proc/net/ip_vs (None: no such file); its one netlink dump
    of the services (the host has no IPVS) answers with the persistent DNS service and these
    firewall marks."""
    path = tmp_path / "ip_vs"
    if text is not None:
        path.write_text(text)
    services = [Service(DNS, "rr", 300, "255.255.255.0")] + [
        Service(ServiceKey.for_fwmark(mark, family), "wlc")
        for mark, families in marks.items()
        for family in families
    ]
    return procfs.read_table(lambda: services, str(path))


def test_it_reads_services_destinations_and_counters_from_the_kernels_text(tmp_path):
    table = read(tmp_path, PROC, {5: {4}})
    mysql = table[ServiceKey.for_address("tcp", "192.0.2.240", 3306)]
    assert mysql.service == Service(mysql.service.key, "lc", 0, "")
    assert mysql.destinations == {
        ("192.0.2.242", 3306): Destination("192.0.2.242", 3306, "route", 1, 3, 0),
        ("192.0.2.241", 3306): Destination("192.0.2.241", 3306, "route", 0, 0, 12),
    }
    dns = table[DNS]
    assert (dns.service.scheduler, dns.service.persistent, dns.service.netmask) == (
        "rr",
        300,
        "255.255.255.0",
    )
    assert list(dns.destinations.values()) == [Destination("203.0.113.1", 53, "tunnel", 5)]
    marked = table[ServiceKey.for_fwmark(5, 4)]
    assert list(marked.destinations.values()) == [Destination("198.51.100.1", 80, "masq", 2, 1, 1)]
    v6 = table[ServiceKey.for_address("tcp", "2001:db8::80", 80)]
    assert v6.service.scheduler == "sh"
    assert list(v6.destinations) == [("2001:db8::1", 8080)]
    assert len(table) == 4


def test_an_empty_table_is_empty(tmp_path):
    header = "\n".join(PROC.split("\n")[:3]) + "\n"
    assert read(tmp_path, header, {}) == {}


@pytest.mark.parametrize(
    "text, marks",
    [
        (PROC, {5: {4, 6}}),  # mark 5 is an IPv4 and an IPv6 service: the text cannot tell
        (PROC.replace("UDP  C00002F0:0035", "SCTP  C00002F0:0035"), {5: {4}}),
        (None, {}),  # no /proc/net/ip_vs at all
    ],
)
def test_it_leaves_to_netlink_what_the_text_cannot_say(tmp_path, text, marks):
    assert read(tmp_path, text, marks) is None
