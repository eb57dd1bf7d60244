"""Applying is a minimal diff, never a flush: one change in lvs.cf is one IPVS operation, and live
connections through the VIP survive any number of applies."""

from __future__ import annotations

from scripts.testbed import lvscf
from scripts.testbed.topology import BRIDGE, CLIENT, VIP, Topology, mysql_connect, query_one
from tests.lab import ipvsadm
from tests.lab.product import Applier

SERVICE = f"TCP {VIP}:3306"


def mysql(weights: dict[str, int] | None = None, names: tuple[str, ...] = ("rs1", "rs2")) -> str:
    return lvscf.config(
        lvscf.virtual(
            "mysql", address=VIP, device=f"{BRIDGE}:1", scheduler="wlc",
            servers=lvscf.mysql_servers(weights, names),
        )
    )  # fmt: skip


def test_it_changes_a_weight_with_exactly_one_edit(topology: Topology, applier: Applier) -> None:
    applier.apply(mysql(), in_process=True)

    # The command as a user runs it, dry: what it would do, in ipvsadm's syntax.
    planned = applier.dry_run(mysql({"rs1": 3}))
    assert planned.operations == [f"-e -t {VIP}:3306 -r 192.0.2.241:3306 -g -w 3"], planned.stdout
    assert planned.lines[-1] == "dry run: 1 operation: 1 real server changed"
    assert ipvsadm.table()[SERVICE].destination("192.0.2.241:3306").weight == 1  # dry: untouched

    applier.apply(in_process=True)
    service = ipvsadm.table()[SERVICE]
    assert service.destination("192.0.2.241:3306").weight == 3
    assert service.destination("192.0.2.242:3306").weight == 1


def test_it_adds_a_real_server_with_exactly_one_add(topology: Topology, applier: Applier) -> None:
    applier.apply(mysql(names=("rs1",)), in_process=True)

    planned = applier.dry_run(mysql(), in_process=True)
    assert planned.operations == [f"-a -t {VIP}:3306 -r 192.0.2.242:3306 -g -w 1"], planned.stdout

    applier.apply(in_process=True)
    assert [d.address for d in ipvsadm.table()[SERVICE].destinations] == [
        "192.0.2.241:3306",
        "192.0.2.242:3306",
    ]


def test_it_removes_a_real_server_with_exactly_one_delete(
    topology: Topology, applier: Applier
) -> None:
    applier.apply(mysql(), in_process=True)

    planned = applier.dry_run(mysql(names=("rs1",)), in_process=True)
    assert planned.operations == [f"-d -t {VIP}:3306 -r 192.0.2.242:3306"], planned.stdout

    applier.apply(in_process=True)
    assert [d.address for d in ipvsadm.table()[SERVICE].destinations] == ["192.0.2.241:3306"]


def test_it_keeps_a_live_connection_through_fifty_applies(
    topology: Topology, applier: Applier
) -> None:
    applier.apply(mysql(), in_process=True)
    connection = mysql_connect(VIP, ns=CLIENT)
    try:
        connection_id, server_id = query_one(connection, "SELECT CONNECTION_ID(), @@server_id")
        for batch in range(5):
            for step in range(10):
                weight = 2 + (batch * 10 + step) % 2  # 2, 3, 2, 3, ...
                applier.apply(mysql({"rs1": weight, "rs2": 5 - weight}), in_process=True)
            # Same server, same session: the connection was never cut or moved.
            assert query_one(connection, "SELECT CONNECTION_ID(), @@server_id") == (
                connection_id,
                server_id,
            ), f"after {(batch + 1) * 10} applies"
    finally:
        connection.close()

    service = ipvsadm.table()[SERVICE]
    assert service.destination("192.0.2.241:3306").weight == 3
    assert service.destination("192.0.2.242:3306").weight == 2
