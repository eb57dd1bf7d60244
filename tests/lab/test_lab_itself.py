"""The lab's own checks, with `ipvsadm` by hand and no product code: when these pass and a product
test fails, the product is at fault, not the lab."""

from __future__ import annotations

from collections import Counter

import pymysql

from scripts.testbed.topology import (
    BRIDGE,
    CLIENT,
    NAT_ROUTER,
    NAT_VIP,
    OUTSIDE,
    PUBLIC_BRIDGE,
    REAL_SERVERS,
    VIP,
    Topology,
    mariadb_cli,
    mysql_connect,
    path_state,
    run,
    sysctl,
    which_server,
)
from tests.lab import ipvsadm


def test_it_reaches_each_real_servers_mariadb_directly(topology: Topology) -> None:
    for name, address in REAL_SERVERS.items():
        connection = mysql_connect(address, ns=CLIENT)
        try:
            assert which_server(connection) == name
        finally:
            connection.close()


def vip_by_hand() -> None:
    """The VIP on the director as a sysadmin adds it, with no gratuitous ARP (applylvs sends
    one): the client's neighbour entry from an earlier test could then still name a MAC that
    held the VIP then (a second director's), so it goes, and the client asks again."""
    run("ip", "addr", "add", f"{VIP}/32", "dev", BRIDGE, "label", f"{BRIDGE}:9")
    run("ip", "neigh", "flush", "to", VIP, ns=CLIENT)


def test_it_balances_mysql_over_a_dr_service_made_by_hand(topology: Topology) -> None:
    vip_by_hand()
    run("ipvsadm", "-A", "-t", f"{VIP}:3306", "-s", "rr")
    for address in REAL_SERVERS.values():
        run("ipvsadm", "-a", "-t", f"{VIP}:3306", "-r", f"{address}:3306", "-g", "-w", "1")

    answers = Counter(mariadb_cli(VIP, "SELECT @@server_id").strip() for _ in range(4))
    assert answers == Counter({"241": 2, "242": 2})

    service = ipvsadm.table()[f"TCP {VIP}:3306"]
    assert [dest.forward for dest in service.destinations] == ["Route", "Route"]
    assert sum(dest.inactive + dest.active for dest in service.destinations) >= 4


def test_it_masquerades_mysql_from_the_outside_subnet_by_hand(topology: Topology) -> None:
    run("ip", "addr", "add", f"{NAT_VIP}/32", "dev", PUBLIC_BRIDGE, "label", f"{PUBLIC_BRIDGE}:9")
    run("ip", "addr", "add", f"{NAT_ROUTER}/24", "dev", BRIDGE, "label", f"{BRIDGE}:8")
    sysctl("net.ipv4.ip_forward", "1")
    run("ipvsadm", "-A", "-t", f"{NAT_VIP}:3306", "-s", "rr")
    for address in REAL_SERVERS.values():
        run("ipvsadm", "-a", "-t", f"{NAT_VIP}:3306", "-r", f"{address}:3306", "-m", "-w", "1")

    connections = [mysql_connect(NAT_VIP, ns=OUTSIDE) for _ in range(2)]
    try:
        served = Counter(which_server(connection) for connection in connections)
    finally:
        for connection in connections:
            connection.close()
    assert served == Counter({"rs1": 1, "rs2": 1})


def test_it_marks_packets_for_a_firewall_mark_service_by_hand(topology: Topology) -> None:
    vip_by_hand()
    run("ipvsadm", "-A", "-f", "7", "-s", "rr")
    for address in REAL_SERVERS.values():
        run("ipvsadm", "-a", "-f", "7", "-r", address, "-g", "-w", "1")
    run("tc", "qdisc", "add", "dev", BRIDGE, "clsact")
    run(
        "tc", "filter", "add", "dev", BRIDGE, "ingress", "protocol", "ip", "flower",
        "dst_ip", VIP, "ip_proto", "tcp", "dst_port", "3306", "action", "skbedit", "mark", "7",
    )  # fmt: skip

    try:
        connections = [mysql_connect(VIP, ns=CLIENT) for _ in range(2)]
    except pymysql.err.OperationalError as exc:
        raise AssertionError(f"{exc}\n{path_state(VIP, CLIENT)}") from exc
    try:
        served = Counter(which_server(connection) for connection in connections)
        service = ipvsadm.table()["FWM 7"]
    finally:
        for connection in connections:
            connection.close()
    assert served == Counter({"rs1": 1, "rs2": 1})
    # Through the mark service, not some other path: it holds both connections.
    assert [d.active for d in service.destinations] == [1, 1]
