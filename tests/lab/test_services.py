"""Kinds of virtual service: firewall marks, UDP, persistence with a netmask, and every scheduler
the kernel offers, each applied by applylvs and read back with `ipvsadm -Ln`."""

from __future__ import annotations

import platform
from collections import Counter
from pathlib import Path

import pytest

from scripts.testbed import lvscf
from scripts.testbed.topology import (
    BRIDGE,
    CLIENT,
    REAL_SERVERS,
    VIP,
    Topology,
    mysql_connect,
    reset_director,
    run,
    which_server,
)
from tests.lab import ipvsadm
from tests.lab.product import Applier
from virtualservers.lvsconf.model import SCHEDULERS

IPVS_MODULES = Path("/lib/modules", platform.release(), "kernel/net/netfilter/ipvs")


def test_it_balances_a_firewall_mark_service(topology: Topology, applier: Applier) -> None:
    applier.apply(
        lvscf.config(
            lvscf.virtual(
                "marked", address=VIP, device=f"{BRIDGE}:1", fwmark=5, port=3306,
                scheduler="rr", servers=lvscf.mysql_servers(),
            )
        ),
        in_process=True,
    )  # fmt: skip

    service = ipvsadm.table()["FWM 5"]
    assert service.scheduler == "rr"
    assert sorted(d.address.rsplit(":", 1)[0] for d in service.destinations) == sorted(
        REAL_SERVERS.values()
    )
    assert {d.forward for d in service.destinations} == {"Route"}

    # Mark MySQL traffic to the VIP as it enters the director (what `iptables -t mangle ... -j
    # MARK --set-mark 5` does in Piranha's guide; tc needs no extra package).
    run("tc", "qdisc", "add", "dev", BRIDGE, "clsact")
    try:
        run(
            "tc", "filter", "add", "dev", BRIDGE, "ingress", "protocol", "ip", "flower",
            "dst_ip", VIP, "ip_proto", "tcp", "dst_port", "3306",
            "action", "skbedit", "mark", "5",
        )  # fmt: skip
        connections = [mysql_connect(VIP, ns=CLIENT) for _ in range(2)]
        try:
            served = Counter(which_server(connection) for connection in connections)
        finally:
            for connection in connections:
                connection.close()
    finally:
        run("tc", "qdisc", "del", "dev", BRIDGE, "clsact")
    assert served == Counter({"rs1": 1, "rs2": 1})


def test_it_creates_a_udp_service(topology: Topology, applier: Applier) -> None:
    applier.apply(
        lvscf.config(
            lvscf.virtual(
                "dns", address=VIP, device=f"{BRIDGE}:1", port=53, protocol="udp",
                scheduler="wrr", servers=lvscf.mysql_servers({"rs2": 2}),
            )
        ),
        in_process=True,
    )  # fmt: skip

    assert ipvsadm.shape() == [
        f"UDP  {VIP}:53 wrr",
        "  -> 192.0.2.241:53 Route 1",
        "  -> 192.0.2.242:53 Route 2",
    ]


def test_it_makes_a_persistent_service_with_a_netmask(topology: Topology, applier: Applier) -> None:
    applier.apply(
        lvscf.config(
            lvscf.virtual(
                "sticky", address=VIP, device=f"{BRIDGE}:1", port=3306, scheduler="rr",
                persistent=300, pmask="255.255.255.0", servers=lvscf.mysql_servers(),
            )
        ),
        in_process=True,
    )  # fmt: skip

    assert ipvsadm.shape()[0] == f"TCP  {VIP}:3306 rr persistent 300 mask 255.255.255.0"
    assert f"-A -t {VIP}:3306 -s rr -p 300 -M 255.255.255.0" in ipvsadm.ipvsadm_save()
    # rr alone would alternate; persistence keeps one client on one server.
    connections = [mysql_connect(VIP, ns=CLIENT) for _ in range(4)]
    try:
        served = {which_server(connection) for connection in connections}
    finally:
        for connection in connections:
            connection.close()
    assert len(served) == 1


@pytest.fixture(scope="module")
def every_scheduler(topology: Topology, tmp_path_factory: pytest.TempPathFactory) -> str:
    """One apply of a file with one virtual per scheduler (ports 10001...); `ipvsadm -Ln` after."""
    reset_director()
    virtuals = [
        lvscf.virtual(
            f"sched-{name}", address=VIP, device=f"{BRIDGE}:1", port=10001 + index,
            scheduler=name, servers=lvscf.mysql_servers(),
        )
        for index, name in enumerate(SCHEDULERS)
    ]  # fmt: skip
    Applier(tmp_path_factory.mktemp("schedulers")).apply(lvscf.config(*virtuals), in_process=True)
    return ipvsadm.ipvsadm_ln()


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_it_loads_and_uses_every_scheduler(every_scheduler: str, scheduler: str) -> None:
    # The kernel must offer it (a module in its tree)...
    assert list(IPVS_MODULES.glob(f"ip_vs_{scheduler}.ko*")), f"no ip_vs_{scheduler} module"
    # ...loaded when the service was created...
    loaded = Path("/proc/modules").read_text().split("\n")
    assert any(line.startswith(f"ip_vs_{scheduler} ") for line in loaded)
    # ...and shown by ipvsadm for the virtual that asked for it.
    port = 10001 + SCHEDULERS.index(scheduler)
    service = ipvsadm.parse(every_scheduler)[f"TCP {VIP}:{port}"]
    assert service.scheduler == scheduler
    assert len(service.destinations) == 2
