"""The seed's scenario: a MySQL service over direct routing, from an lvs.cf of the classic shape,
applied by `manage.py applylvs` and checked with the real `ipvsadm` and real MySQL clients."""

from __future__ import annotations

from collections import Counter

from scripts.testbed import lvscf
from scripts.testbed.topology import (
    BRIDGE,
    CLIENT,
    VIP,
    Topology,
    addresses,
    mariadb_cli,
    mysql_connect,
    which_server,
)
from tests.lab import ipvsadm
from tests.lab.product import Applier

CLASSIC = lvscf.config(
    lvscf.virtual(
        "mysql", address=VIP, device=f"{BRIDGE}:1", port=3306, scheduler="lc",
        servers=lvscf.mysql_servers(),
    ),
    network="direct",
)  # fmt: skip

EXPECTED_TABLE = [
    f"TCP  {VIP}:3306 lc",
    "  -> 192.0.2.241:3306 Route 1",
    "  -> 192.0.2.242:3306 Route 1",
]


def test_it_builds_exactly_the_classic_table(topology: Topology, applier: Applier) -> None:
    # The command exactly as a user (or cron) runs it: a process of its own.
    result = applier.apply(CLASSIC)

    assert ipvsadm.shape() == EXPECTED_TABLE, result.stdout
    save = ipvsadm.ipvsadm_save().splitlines()
    assert f"-A -t {VIP}:3306 -s lc" in save
    assert f"-a -t {VIP}:3306 -r 192.0.2.241:3306 -g -w 1" in save
    assert f"-a -t {VIP}:3306 -r 192.0.2.242:3306 -g -w 1" in save


def test_it_puts_the_vip_on_the_directors_device(topology: Topology, applier: Applier) -> None:
    assert (VIP, 32, f"{BRIDGE}:1") not in addresses(BRIDGE)

    applier.apply(CLASSIC, in_process=True)

    vips = [entry for entry in addresses(BRIDGE) if entry[0] == VIP]
    assert len(vips) == 1, addresses(BRIDGE)
    assert vips[0][2] == f"{BRIDGE}:1"


def test_it_answers_the_mysql_client_through_the_vip(topology: Topology, applier: Applier) -> None:
    applier.apply(CLASSIC, in_process=True)

    # The real `mariadb` command-line client, from the client's namespace, to the VIP.
    answer = mariadb_cli(VIP, "SELECT @@server_id, 1 + 1").split()
    assert answer[0] in {"241", "242"}
    assert answer[1] == "2"


def test_it_spreads_held_connections_over_both_servers(
    topology: Topology, applier: Applier
) -> None:
    applier.apply(CLASSIC, in_process=True)
    before = {d.address: d.active for d in ipvsadm.table()[f"TCP {VIP}:3306"].destinations}

    connections = [mysql_connect(VIP, ns=CLIENT) for _ in range(6)]
    try:
        served = Counter(which_server(connection) for connection in connections)
        service = ipvsadm.table()[f"TCP {VIP}:3306"]
    finally:
        for connection in connections:
            connection.close()

    # lc sends each new connection to the server with fewer active ones: 3 and 3.
    assert served == Counter({"rs1": 3, "rs2": 3})
    # The director counts each held connection as active on the server that answered it.
    assert service.destination("192.0.2.241:3306").active - before["192.0.2.241:3306"] == 3
    assert service.destination("192.0.2.242:3306").active - before["192.0.2.242:3306"] == 3


def test_it_changes_nothing_when_applied_twice(topology: Topology, applier: Applier) -> None:
    applier.apply(CLASSIC, in_process=True)
    table = ipvsadm.shape()

    again = applier.dry_run(in_process=True)

    assert again.operations == []
    assert ipvsadm.shape() == table
