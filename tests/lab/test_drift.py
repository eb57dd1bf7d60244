"""Drift: what someone else did to the table. applylvs restores what it owns and leaves alone what
it does not own."""

from __future__ import annotations

from scripts.testbed import lvscf
from scripts.testbed.topology import BRIDGE, CLIENT, VIP, Topology, addresses, mariadb_cli, run
from tests.lab import ipvsadm
from tests.lab.product import Applier

OTHER_VIP = "192.0.2.239"
FOREIGN = "TCP 203.0.113.9:80"


def two_virtuals(other_active: int = 1) -> str:
    return lvscf.config(
        lvscf.virtual(
            "mysql", address=VIP, device=f"{BRIDGE}:1", servers=lvscf.mysql_servers()
        ),
        lvscf.virtual(
            "mysql-ro", address=OTHER_VIP, device=f"{BRIDGE}:3", active=other_active,
            scheduler="rr", servers=lvscf.mysql_servers(),
        ),
    )  # fmt: skip


def vips() -> set[str]:
    return {address for address, _, _ in addresses(BRIDGE)}


def test_it_restores_its_services_after_a_flush(topology: Topology, applier: Applier) -> None:
    applier.apply(two_virtuals(), in_process=True)
    table = ipvsadm.shape()
    run("ipvsadm", "-C")
    assert ipvsadm.shape() == []

    # The command as cron runs it.
    result = applier.apply()

    assert result.lines[-1] == "6 operations: 2 services added, 4 real servers added"
    assert ipvsadm.shape() == table
    assert mariadb_cli(VIP, "SELECT 1").strip() == "1"


def test_it_restores_a_vip_removed_by_hand(topology: Topology, applier: Applier) -> None:
    applier.apply(two_virtuals(), in_process=True)
    run("ip", "addr", "del", f"{VIP}/32", "dev", BRIDGE)
    assert VIP not in vips()

    applier.apply(in_process=True)

    assert VIP in vips()
    assert mariadb_cli(VIP, "SELECT 1", ns=CLIENT).strip() == "1"


def test_it_leaves_a_foreign_service_untouched(topology: Topology, applier: Applier) -> None:
    run("ipvsadm", "-A", "-t", "203.0.113.9:80", "-s", "rr")
    run("ipvsadm", "-a", "-t", "203.0.113.9:80", "-r", "203.0.113.10:80", "-g", "-w", "7")
    foreign = ipvsadm.table()[FOREIGN]

    applier.apply(two_virtuals(), in_process=True)
    plan = applier.dry_run(two_virtuals(other_active=0), in_process=True)
    applier.apply(in_process=True)
    applier.apply(two_virtuals(), in_process=True)

    assert not any("203.0.113" in line for line in plan.stdout.splitlines()), plan.stdout
    assert ipvsadm.table()[FOREIGN] == foreign
    assert ipvsadm.shape().count(f"TCP  {VIP}:3306 lc") == 1


def test_it_removes_a_deactivated_virtual_and_its_vip(topology: Topology, applier: Applier) -> None:
    applier.apply(two_virtuals(), in_process=True)
    assert f"TCP {OTHER_VIP}:3306" in ipvsadm.table()
    assert {VIP, OTHER_VIP} <= vips()

    applier.apply(two_virtuals(other_active=0), in_process=True)

    table = ipvsadm.table()
    assert f"TCP {OTHER_VIP}:3306" not in table
    assert OTHER_VIP not in vips()
    # The other virtual and its VIP stay, and keep answering.
    assert f"TCP {VIP}:3306" in table
    assert VIP in vips()
    assert mariadb_cli(VIP, "SELECT 1").strip() == "1"
