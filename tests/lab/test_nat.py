"""NAT (masquerading): the client is on another subnet (198.51.100.0/24, behind br1), the real
servers answer through the director's nat_router address 192.0.2.254 (br0:2)."""

from __future__ import annotations

from collections import Counter

from scripts.testbed import lvscf
from scripts.testbed.topology import (
    BRIDGE,
    NAT_ROUTER,
    NAT_VIP,
    OUTSIDE,
    PUBLIC_BRIDGE,
    Topology,
    addresses,
    mariadb_cli,
    mysql_connect,
    read_sysctl,
    which_server,
)
from tests.lab import ipvsadm
from tests.lab.product import Applier

NAT = lvscf.config(
    lvscf.virtual(
        "mysql", address=NAT_VIP, device=f"{PUBLIC_BRIDGE}:1", port=3306, scheduler="wlc",
        servers=lvscf.mysql_servers(),
    ),
    network="nat",
    nat_router=f"{NAT_ROUTER} {BRIDGE}:2",
)  # fmt: skip


def test_it_masquerades_mysql_to_both_real_servers(topology: Topology, applier: Applier) -> None:
    applier.apply(NAT)

    assert ipvsadm.shape() == [
        f"TCP  {NAT_VIP}:3306 wlc",
        "  -> 192.0.2.241:3306 Masq 1",
        "  -> 192.0.2.242:3306 Masq 1",
    ]
    assert f"-a -t {NAT_VIP}:3306 -r 192.0.2.241:3306 -m -w 1" in ipvsadm.ipvsadm_save()
    assert (NAT_VIP, 32, f"{PUBLIC_BRIDGE}:1") in addresses(PUBLIC_BRIDGE)
    assert any(
        address == NAT_ROUTER and label == f"{BRIDGE}:2" for address, _, label in addresses(BRIDGE)
    ), addresses(BRIDGE)
    assert read_sysctl("net.ipv4.ip_forward") == "1"

    # The real command-line client from the other subnet gets an answer through the VIP...
    assert mariadb_cli(NAT_VIP, "SELECT 1 + 1", ns=OUTSIDE).strip() == "2"
    # ...and held connections are spread over both real servers.
    connections = [mysql_connect(NAT_VIP, ns=OUTSIDE) for _ in range(4)]
    try:
        served = Counter(which_server(connection) for connection in connections)
    finally:
        for connection in connections:
            connection.close()
    assert served == Counter({"rs1": 2, "rs2": 2})
