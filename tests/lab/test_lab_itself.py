"""The lab's own checks, with `ipvsadm` by hand and no product code: when these pass and a product
test fails, the product is at fault, not the lab."""

from __future__ import annotations

from collections import Counter

from tests.lab import ipvsadm
from tests.lab.topology import (
    BRIDGE,
    CLIENT,
    REAL_SERVERS,
    VIP,
    Topology,
    mariadb_cli,
    mysql_connect,
    run,
    which_server,
)


def test_it_reaches_each_real_servers_mariadb_directly(topology: Topology) -> None:
    for name, address in REAL_SERVERS.items():
        connection = mysql_connect(address, ns=CLIENT)
        try:
            assert which_server(connection) == name
        finally:
            connection.close()


def test_it_balances_mysql_over_a_dr_service_made_by_hand(topology: Topology) -> None:
    run("ip", "addr", "add", f"{VIP}/32", "dev", BRIDGE, "label", f"{BRIDGE}:9")
    run("ipvsadm", "-A", "-t", f"{VIP}:3306", "-s", "rr")
    for address in REAL_SERVERS.values():
        run("ipvsadm", "-a", "-t", f"{VIP}:3306", "-r", f"{address}:3306", "-g", "-w", "1")

    answers = Counter(mariadb_cli(VIP, "SELECT @@server_id").strip() for _ in range(4))
    assert answers == Counter({"241": 2, "242": 2})

    service = ipvsadm.table()[f"TCP {VIP}:3306"]
    assert [dest.forward for dest in service.destinations] == ["Route", "Route"]
    assert sum(dest.inactive + dest.active for dest in service.destinations) >= 4
